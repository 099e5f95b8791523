// The page behind the link of the password-reset mail: it sends the link's token and the new
// password to auth.resetPassword. The token never leaves this page except in that call.
const form = document.querySelector("#reset");
const message = document.querySelector("#message");
const token = new URLSearchParams(location.search).get("token") ?? "";
// Read once: the token leaves the address bar and this history entry (a shared screen, the
// back button, a bookmark), and stays only in this page's memory.
if (location.search) history.replaceState(null, "", location.pathname);

function say(text, kind) {
  message.textContent = text;
  message.className = kind;
}

if (!token) {
  say("This link has no reset token. Ask for a new reset mail.", "error");
  form.hidden = true;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const newPassword = form.password.value;
  if (newPassword !== form.repeat.value) {
    say("The two passwords differ.", "error");
    return;
  }
  const response = await fetch("/trpc/auth.resetPassword", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ json: { token, newPassword } }),
  });
  const body = await response.json().catch(() => null);
  if (response.ok) {
    form.hidden = true;
    say("Your password is changed, and every session was signed out. Sign in with the new one.", "ok");
    return;
  }
  const error = body?.error?.json;
  const fields = error?.data?.fieldErrors ?? {};
  const detail = fields.newPassword?.join(" ") ?? error?.message ?? `HTTP ${response.status}`;
  say(detail, "error");
});

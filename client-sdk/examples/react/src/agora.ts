import { createAgoraReact } from "@agora/client/react";

/**
 * The API's base URL: `?api=` in the page's URL (the browser test points the built app at its
 * server that way), else VITE_AGORA_URL at build time, else the quick start's server.
 */
const apiUrl =
  new URLSearchParams(window.location.search).get("api") ??
  (import.meta.env.VITE_AGORA_URL as string | undefined) ??
  "http://localhost:3000";

/** Set when the server refused the refresh token; the sign-in form says so. */
export const notices = { sessionExpired: false };

export const agora = createAgoraReact({
  url: apiUrl,
  // The kit has already cleared the tokens and the query cache: the app shows the sign-in form.
  onSessionExpired: () => {
    notices.sessionExpired = true;
  },
});

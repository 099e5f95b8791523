import { isAgoraError } from "@agora/client";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { agora, notices } from "./agora.js";

export function Login() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const login = useMutation({ mutationFn: agora.login });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    notices.sessionExpired = false;
    login.mutate({ email, password });
  };
  // A wrong password is UNAUTHORIZED from auth.login; an expired session never reaches here as
  // an error (the kit signs out and calls onSessionExpired instead).
  const error = login.error;
  const message = isAgoraError(error, "UNAUTHORIZED")
    ? "Wrong email or password"
    : isAgoraError(error, "TOO_MANY_REQUESTS")
      ? "Too many attempts: wait a little"
      : error
        ? `Could not sign in: ${error.message}`
        : null;
  return (
    <form className="login" onSubmit={submit}>
      <h1>Sign in</h1>
      {notices.sessionExpired && <p role="status">Your session expired: sign in again.</p>}
      <label>
        Email <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </label>
      <button type="submit" disabled={login.isPending}>
        Sign in
      </button>
      {message && <p role="alert">{message}</p>}
    </form>
  );
}

import { anonymousProcedure, router, userProcedure } from "../../trpc/init.js";
import { rateLimited } from "../../trpc/rate-limits.js";
import { UserPublic } from "../users/schemas.js";
import {
  ChangePasswordInput,
  LoginInput,
  RefreshTokenInput,
  RegisterInput,
  RequestPasswordResetInput,
  ResetPasswordInput,
  SubscriptionTicketOutput,
  TokensOutput,
} from "./schemas.js";
import { SuccessOutput } from "../../shared/schemas.js";
import { z } from "zod";

const AuthOutput = z.object({
  user: UserPublic.describe("The signed-in user"),
  tokens: TokensOutput.describe("The new session's tokens"),
});

export const authRouter = router({
  register: anonymousProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/register",
        tags: ["auth"],
        summary: "Create an account and sign in",
      },
    })
    .input(RegisterInput)
    .output(AuthOutput)
    .use(rateLimited("register"))
    .mutation(({ ctx, input }) => ctx.services.auth.register(input)),

  login: anonymousProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/login",
        tags: ["auth"],
        summary: "Sign in with email and password",
        errors: ["UNAUTHORIZED"],
      },
    })
    .input(LoginInput)
    .output(AuthOutput)
    .use(rateLimited("login"))
    .mutation(({ ctx, input }) => ctx.services.auth.login(input.email, input.password)),

  refresh: anonymousProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/refresh",
        tags: ["auth"],
        summary: "Exchange a refresh token for new tokens (rotates it)",
        description:
          "A refresh token works once. Presenting a spent one revokes its whole session (401), as does an unknown or expired one.",
        errors: ["UNAUTHORIZED"],
      },
    })
    .input(RefreshTokenInput)
    .output(TokensOutput)
    // The caller's access token, if it sends one, is not checked here (a stale one must not
    // stop a refresh): it only shows which session a repeated refresh token comes from.
    .mutation(({ ctx, input }) => ctx.services.auth.refresh(input.refreshToken, ctx.credentials.bearer)),

  logout: userProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/logout",
        tags: ["auth"],
        summary: "Revoke a refresh token",
      },
    })
    .input(RefreshTokenInput)
    .output(SuccessOutput)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.auth.logout(ctx.principal.id, input.refreshToken);
      return { success: true as const };
    }),

  subscriptionTicket: userProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/subscription-ticket",
        tags: ["auth"],
        summary: "A single-use ticket (30 s) that opens one event stream",
        description:
          "Pass it as the `ticket` connection param of a `/trpc` subscription instead of the access token, so no long-lived credential goes into an SSE URL.",
      },
    })
    .output(SubscriptionTicketOutput)
    .mutation(({ ctx }) => ctx.services.auth.issueSubscriptionTicket(ctx.principal)),

  logoutAll: userProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/logout-all",
        tags: ["auth"],
        summary: "Sign out everywhere",
        description:
          "Every refresh token of the user, and every access token issued before now, stop working.",
      },
    })
    .output(SuccessOutput)
    .mutation(async ({ ctx }) => {
      await ctx.services.auth.logoutAll(ctx.principal.id);
      return { success: true as const };
    }),

  changePassword: userProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/change-password",
        tags: ["auth"],
        summary: "Change the signed-in user's password",
        description: "Needs the current password; the user's other sessions are signed out.",
      },
    })
    .input(ChangePasswordInput)
    .output(SuccessOutput)
    .use(rateLimited("changePassword"))
    .mutation(async ({ ctx, input }) => {
      await ctx.services.auth.changePassword(ctx.principal, input.currentPassword, input.newPassword);
      return { success: true as const };
    }),

  requestPasswordReset: anonymousProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/request-password-reset",
        tags: ["auth"],
        summary: "Email a password-reset token",
        description:
          "Answers the same whether or not the email has an account. The token is single-use and expires.",
      },
    })
    .input(RequestPasswordResetInput)
    .output(SuccessOutput)
    .use(rateLimited("requestPasswordReset"))
    .mutation(async ({ ctx, input }) => {
      await ctx.services.auth.requestPasswordReset(input.email);
      return { success: true as const };
    }),

  resetPassword: anonymousProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/reset-password",
        tags: ["auth"],
        summary: "Set a new password with a reset token",
        description: "Signs the user out of every session.",
      },
    })
    .input(ResetPasswordInput)
    .output(SuccessOutput)
    .use(rateLimited("resetPassword"))
    .mutation(async ({ ctx, input }) => {
      await ctx.services.auth.resetPassword(input.token, input.newPassword);
      return { success: true as const };
    }),
});

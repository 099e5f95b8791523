import { apiKeysRouter } from "./modules/api-keys/router.js";
import { authRouter } from "./modules/auth/router.js";
import { healthRouter } from "./modules/health/router.js";
import { usersRouter } from "./modules/users/router.js";
import { router } from "./trpc/init.js";

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  apiKeys: apiKeysRouter,
  health: healthRouter,
});

export type AppRouter = typeof appRouter;

import { apiKeysRouter } from "./modules/api-keys/router.js";
import { authRouter } from "./modules/auth/router.js";
import { healthRouter } from "./modules/health/router.js";
import { jobsRouter } from "./modules/jobs/router.js";
import { marketsRouter } from "./modules/markets/router.js";
import { ordersRouter } from "./modules/orders/router.js";
import { postsRouter } from "./modules/posts/router.js";
import { productsRouter } from "./modules/products/router.js";
import { usersRouter } from "./modules/users/router.js";
import { router } from "./trpc/init.js";
export const appRouter = router({
    auth: authRouter,
    users: usersRouter,
    apiKeys: apiKeysRouter,
    health: healthRouter,
    markets: marketsRouter,
    products: productsRouter,
    orders: ordersRouter,
    posts: postsRouter,
    jobs: jobsRouter,
});
//# sourceMappingURL=router.js.map
/** Bare Fastify 5, one route: the floor of a Fastify app, and of any Node HTTP framework here. */
import Fastify from "fastify";

const app = Fastify({ logger: false });
app.get("/health", () => ({ status: "ok" }));

const port = Number(process.env.PORT ?? 3004);
await app.listen({ port, host: process.env.HOST ?? "127.0.0.1" });
process.stdout.write(`bare fastify listening on ${port}\n`);

// Exit cleanly on SIGTERM, so `node --cpu-prof` writes its profile when the bench stops the peer.
process.once("SIGTERM", () => process.exit(0));

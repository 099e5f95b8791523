/** Bare express 5, one route: the floor any express-based framework starts from. */
import express from "express";

const app = express();
app.get("/health", (_req, res) => {
  res.json({ status: "ok" });
});

const port = Number(process.env.PORT ?? 3002);
app.listen(port, process.env.HOST ?? "127.0.0.1", () => {
  process.stdout.write(`bare express listening on ${port}\n`);
});

// Exit cleanly on SIGTERM, so `node --cpu-prof` writes its profile when the bench stops the peer.
process.once("SIGTERM", () => process.exit(0));

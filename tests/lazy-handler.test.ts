import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { afterEach, describe, expect, it } from "vitest";
import { lazyHandler } from "@agora/server/testing";

/** The REST surface is built on first use (or right after listening): what that guarantees. */
let server: Server | null = null;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = null;
});

async function serve(handler: RequestHandler): Promise<string> {
  const app = express();
  app.use("/lazy", handler);
  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    res.status(500).json({ error: err instanceof Error ? err.message : String(err) });
  };
  app.use(onError);
  server = createServer(app);
  const listening = server;
  await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${String((listening.address() as AddressInfo).port)}/lazy`;
}

const answering = (text: string): RequestHandler => {
  const router = express.Router();
  router.get("/hello", (_req, res) => {
    res.json({ text });
  });
  return router;
};

describe("lazyHandler", () => {
  it("builds once: requests that arrive during the build wait for it and are answered", async () => {
    let builds = 0;
    let finish: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const url = await serve(
      lazyHandler(async () => {
        builds += 1;
        await gate;
        return answering("built");
      }),
    );
    const calls = [fetch(`${url}/hello`), fetch(`${url}/hello`), fetch(`${url}/hello`)];
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(builds).toBe(1);
    finish();
    const responses = await Promise.all(calls);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await Promise.all(responses.map((r) => r.json()))).toEqual([
      { text: "built" },
      { text: "built" },
      { text: "built" },
    ]);
    // Paths the built router does not know fall through, as if it had been mounted directly.
    expect((await fetch(`${url}/other`)).status).toBe(404);
    expect(builds).toBe(1);
  });

  it("a failed build answers that request with the error; the next request builds again", async () => {
    let builds = 0;
    const handler = lazyHandler(() => {
      builds += 1;
      return builds === 1
        ? Promise.reject(new Error("module failed to load"))
        : Promise.resolve(answering("second"));
    });
    const url = await serve(handler);
    const failed = await fetch(`${url}/hello`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: "module failed to load" });
    const ok = await fetch(`${url}/hello`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ text: "second" });
    // `load` (what the server calls once listening) shares the build.
    await handler.load();
    expect(builds).toBe(2);
  });
});

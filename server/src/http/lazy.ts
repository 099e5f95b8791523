import type { RequestHandler } from "express";

/** Where the REST operations live; the OpenAPI document names it as its (relative) server. */
export const REST_BASE_PATH = "/api/v1";

/** A request handler built on first use, or when `load` is called, whichever comes first. */
export interface LazyHandler extends RequestHandler {
  load(): Promise<RequestHandler>;
}

/**
 * Defers building a handler, and loading the modules it needs, until it is used: the server
 * listens without them and loads them right after (see server.ts). A request that comes first
 * waits for the build; a failed build answers that request with the error and is tried again
 * by the next one.
 */
export function lazyHandler(build: () => Promise<RequestHandler>): LazyHandler {
  let built: Promise<RequestHandler> | null = null;
  /** Once built: called at once, without a promise per request. */
  let ready: RequestHandler | null = null;
  const load = () =>
    (built ??= build().then(
      (inner) => {
        ready = inner;
        return inner;
      },
      (error: unknown) => {
        built = null;
        throw error;
      },
    ));
  const handler: RequestHandler = (req, res, next) => {
    if (ready) {
      ready(req, res, next);
      return;
    }
    load().then((inner) => inner(req, res, next), next);
  };
  return Object.assign(handler, { load });
}

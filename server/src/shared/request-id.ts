// The id of each HTTP request (X-Request-Id), set by the front middleware (http/front.ts) and read
// where the request's context is built (trpc/context.ts). Declared here, below both, so that
// everything compiling either (the SDK's declarations include the router's context) sees it.
declare module "node:http" {
  interface IncomingMessage {
    requestId?: string;
  }
}

export {};

import { request } from "node:http";

/**
 * Sends the headers of a POST whose body is `total` bytes and only `prefix` of that body, and
 * resolves with the answer the server gives before the rest arrives (it never does): proof
 * that the request was refused without waiting for, let alone parsing, the whole body.
 */
export function answerBeforeBodyEnds(
  url: string,
  headers: Record<string, string>,
  prefix: string,
  total: number,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error("no answer while the body was still arriving"));
    }, 20_000);
    const req = request(
      url,
      { method: "POST", headers: { ...headers, "content-length": String(total) } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.write(prefix);
  });
}

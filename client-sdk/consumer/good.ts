// Consumer test (a): correct use of the packed SDK must type-check with nothing but the
// tarball installed. The assertions below also fail if any type silently became `any`.
import {
  agoraErrorCode,
  createAgoraClient,
  isAgoraError,
  MAX_BATCH_SIZE,
  type AgoraClient,
  type AgoraErrorCode,
  type RouterInputs,
  type RouterOutputs,
  type Tokens,
} from "@agora/client";

type IsAny<T> = 0 extends 1 & T ? true : false;
// Mutual assignability; `any` would pass it, which is what the IsAny checks are for.
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;

type Market = RouterOutputs["markets"]["byId"];
type Me = RouterOutputs["users"]["me"];

export type TypeChecks = [
  Expect<Equal<IsAny<Market>, false>>,
  Expect<Equal<IsAny<RouterInputs["markets"]["create"]>, false>>,
  Expect<Equal<Market["status"], "DRAFT" | "ACTIVE" | "CLOSED">>,
  Expect<Equal<Market["createdAt"], Date>>,
  Expect<Equal<Market["owner"], { id: string; username: string }>>,
  Expect<Equal<Me["role"], "USER" | "ADMIN">>,
  Expect<Equal<RouterInputs["markets"]["create"]["name"], string>>,
  Expect<Equal<RouterInputs["auth"]["refresh"], { refreshToken: string }>>,
  Expect<Equal<Tokens["tokenType"], "Bearer">>,
  Expect<Equal<RouterOutputs["markets"]["list"]["nextCursor"], string | null>>,
  Expect<Equal<IsAny<RouterOutputs["orders"]["byId"]>, false>>,
  Expect<Equal<RouterOutputs["orders"]["byId"]["status"], "CONFIRMED" | "CANCELLED">>,
  Expect<Equal<RouterOutputs["products"]["byId"]["priceCents"], number>>,
  Expect<Equal<RouterOutputs["posts"]["byId"]["author"], { id: string; username: string }>>,
];

let session: Tokens | null = null;

export const api: AgoraClient = createAgoraClient({
  url: "http://localhost:3000",
  getAccessToken: () => session?.accessToken,
  refreshToken: () => session?.refreshToken,
  onTokens: (tokens) => {
    session = tokens;
  },
  headers: { "x-client": "consumer-test" },
});

export const service: AgoraClient = createAgoraClient({
  url: "http://localhost:3000/",
  apiKey: "agora_key",
  headers: () => Promise.resolve({ "x-request-id": "consumer-1" }),
  fetch: (input, init) => fetch(input, init),
});

export async function tour(): Promise<string[]> {
  const { user, tokens } = await api.auth.register.mutate({
    email: "alice@example.com",
    username: "alice",
    password: "Passw0rdGood",
  });
  session = tokens;
  const joined: Date = user.createdAt;

  const me = await api.users.me.query();
  const email: string | undefined = me.email;

  const market = await api.markets.create.mutate({ name: "Fruit", status: "ACTIVE" });
  const updated = await api.markets.update.mutate({ id: market.id, data: { description: "Fresh" } });
  const volume: number = updated.volumeCents;

  const [page, health] = await Promise.all([
    api.markets.list.query({ limit: 10, sort: "volume", order: "desc", status: "ACTIVE" }),
    api.health.ready.query(),
  ]);
  const names: string[] = page.items.map((m) => `${m.name} by ${m.owner.username}`);

  const product = await api.products.create.mutate({
    marketId: market.id,
    name: "Apple",
    priceCents: 120,
    stock: 10,
  });
  const order = await api.orders.create.mutate({
    marketId: market.id,
    items: [{ productId: product.id, quantity: 2 }],
    idempotencyKey: "order-1",
  });
  const lineTotal: number = order.items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
  const post = await api.posts.create.mutate({ title: "Open", content: "We are open", marketId: market.id });
  names.push(`${order.status}: ${order.totalCents} = ${lineTotal}`, post.author.username);
  const db: "up" | "down" = health.checks.database;

  const seen: string[] = [];
  const subscription = api.markets.onEvent.subscribe(
    { marketId: market.id },
    {
      onData(event) {
        const id: string = event.id;
        switch (event.data.type) {
          case "market.updated":
            seen.push(`${id}: ${event.data.market.status}`);
            break;
          case "order.placed":
            seen.push(`${id}: market volume ${event.data.marketVolumeCents}`);
            break;
          case "post.created":
            seen.push(`${id}: ${event.data.post.title}`);
            break;
        }
      },
      onError(error) {
        const code: AgoraErrorCode | undefined = error.data?.code;
        seen.push(code ?? error.message);
      },
    },
  );
  subscription.unsubscribe();

  try {
    await api.markets.create.mutate({ name: "" });
  } catch (error) {
    if (isAgoraError(error, "BAD_REQUEST")) {
      const fields: Record<string, string[]> | null = error.data.fieldErrors;
      names.push(...Object.keys(fields ?? {}));
    } else if (isAgoraError(error)) {
      const status: number | undefined = error.data?.httpStatus;
      names.push(String(status));
    }
    const code: AgoraErrorCode | null = agoraErrorCode(error);
    names.push(code ?? "transport");
  }

  return [joined.toISOString(), email ?? "", String(volume), db, String(MAX_BATCH_SIZE), ...names, ...seen];
}

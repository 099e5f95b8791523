// Consumer test (c): the packed SDK against a live server: register, login, queries (batched),
// a subscription event, automatic token refresh and typed validation errors.
// Usage: AGORA_URL=http://127.0.0.1:3000 node live.js
import {
  createAgoraClient,
  isAgoraError,
  type RouterOutputs,
  type SubscriptionEvent,
  type Tokens,
} from "@agora/client";

type MarketEvent = SubscriptionEvent<RouterOutputs["markets"]["onEvent"]>;

const url = process.env.AGORA_URL;
if (!url) throw new Error("AGORA_URL is required");

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function step(name: string): void {
  console.log(`  ok  ${name}`);
}

let requests = 0;
const countingFetch: typeof fetch = (input, init) => {
  requests += 1;
  return fetch(input, init);
};

const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const credentials = { email: `consumer_${tag}@example.com`, password: "Passw0rdGood" };

const anonymous = createAgoraClient({ url });
const registered = await anonymous.auth.register.mutate({ ...credentials, username: `consumer_${tag}` });
check(registered.user.email === credentials.email, "register returns the user with their email");
check(registered.user.createdAt instanceof Date, "dates arrive as Date (superjson)");
step("auth.register");

const { tokens: loginTokens, user } = await anonymous.auth.login.mutate(credentials);
check(user.id === registered.user.id, "login returns the same user");
step("auth.login");

let session: Tokens = loginTokens;
const api = createAgoraClient({
  url,
  fetch: countingFetch,
  getAccessToken: () => session.accessToken,
  refreshToken: () => session.refreshToken,
  onTokens: (tokens) => {
    session = tokens;
  },
});

requests = 0;
const [me, health, market] = await Promise.all([
  api.users.me.query(),
  api.health.live.query(),
  api.markets.create.mutate({ name: `Consumer market ${tag}`, status: "ACTIVE" }),
]);
check(me.id === user.id, "users.me is the signed-in user");
check(JSON.stringify(health) === '{"status":"ok"}', "health.live");
check(market.owner.id === user.id, "the market belongs to its creator");
check(requests === 2, `two queries and a mutation take two requests (queries batched), took ${requests}`);
step("users.me + health.live batched, markets.create");

const byId = await api.markets.byId.query({ id: market.id });
check(byId.name === market.name && byId.createdAt.getTime() === market.createdAt.getTime(), "markets.byId");
step("markets.byId");

// A subscription event: subscribe, wait until the stream is open, change the market.
const received = await new Promise<MarketEvent>((resolve, reject) => {
  const timer = setTimeout(() => {
    subscription.unsubscribe();
    reject(new Error("no market event within 15s"));
  }, 15_000);
  const subscription = api.markets.onEvent.subscribe(
    { marketId: market.id },
    {
      onStarted() {
        api.markets.update.mutate({ id: market.id, data: { name: `Renamed ${tag}` } }).catch(reject);
      },
      onData(event) {
        if (event.data.type !== "market.updated") return;
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve(event);
      },
      onError(error) {
        clearTimeout(timer);
        reject(error);
      },
    },
  );
});
check(received.data.type === "market.updated", "a market.updated event");
check(received.data.market.name === `Renamed ${tag}`, "the event carries the updated market");
check(received.data.market.updatedAt instanceof Date, "event dates arrive as Date");
check(received.id.length > 0, "events carry an id for resumption");
step("markets.onEvent (SSE) delivered market.updated");

// Automatic refresh: a dead access token with a live refresh token.
const spentRefreshToken = session.refreshToken;
session = { ...session, accessToken: "not-a-valid-token" };
const again = await api.users.me.query();
check(again.id === user.id, "the call succeeded after refreshing");
check(session.refreshToken !== spentRefreshToken, "onTokens received rotated tokens");
step("UNAUTHORIZED -> auth.refresh -> retry");

try {
  await api.markets.create.mutate({ name: "" });
  throw new Error("an empty market name was accepted");
} catch (error) {
  check(isAgoraError(error, "BAD_REQUEST"), "invalid input is a BAD_REQUEST");
  check((error.data.fieldErrors?.name?.length ?? 0) > 0, "with field errors for `name`");
  step("isAgoraError(error, 'BAD_REQUEST') with fieldErrors");
}

console.log("live: all checks passed");

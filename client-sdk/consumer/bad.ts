// Consumer test (b): every line after a `@ts-expect-error` is a mistake the SDK's types must
// catch. tsc passes only if each of those lines has an error (an unused directive is itself an
// error), and scripts/consumer-test.mjs re-checks the file with the directives removed to see
// that each line fails with the TS error code named in its directive.
/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access --
   the lines below are type errors on purpose, so their values are untyped. */
import { createAgoraClient, isAgoraError, type RouterInputs } from "@agora/client";

const api = createAgoraClient({ url: "http://localhost:3000" });

export async function mistakes(): Promise<unknown[]> {
  const out: unknown[] = [];

  // @ts-expect-error TS2353 wrong input field: byId takes `id`, not `marketId`
  out.push(await api.markets.byId.query({ marketId: "m_1" }));

  // @ts-expect-error TS2322 wrong input type: a name is a string
  out.push(await api.markets.create.mutate({ name: 42 }));

  // @ts-expect-error TS2345 missing required input field `password`
  out.push(await api.auth.login.mutate({ email: "a@example.com" }));

  const market = await api.markets.byId.query({ id: "m_1" });
  // @ts-expect-error TS2339 wrong output property: markets have `name`, not `title`
  out.push(market.title);

  // @ts-expect-error TS2322 wrong output type: volumeCents is a number
  const volume: string = market.volumeCents;
  out.push(volume);

  // @ts-expect-error TS2339 a procedure that does not exist
  out.push(await api.markets.archive.mutate({ id: "m_1" }));

  // @ts-expect-error TS2339 a router that does not exist
  out.push(await api.payments.list.query());

  // @ts-expect-error TS2339 a query called as a mutation
  out.push(await api.users.me.mutate());

  // @ts-expect-error TS2339 a mutation called as a query
  out.push(await api.markets.create.query({ name: "Fruit" }));

  // @ts-expect-error TS2339 a subscription called as a query
  out.push(await api.markets.onEvent.query({ marketId: "m_1" }));

  api.markets.onEvent.subscribe(
    { marketId: "m_1" },
    {
      onData(event) {
        // @ts-expect-error TS2367 an event type the server never sends
        out.push(event.data.type === "market.deleted");
      },
    },
  );

  // @ts-expect-error TS2322 markets are created as DRAFT or ACTIVE, never CLOSED
  const input: RouterInputs["markets"]["create"] = { name: "Fruit", status: "CLOSED" };
  out.push(input);

  try {
    await api.users.me.query();
  } catch (error) {
    // @ts-expect-error TS2345 not an error code
    out.push(isAgoraError(error, "NOT_A_CODE"));
    if (isAgoraError(error)) {
      // @ts-expect-error TS18049 data is undefined for transport failures: narrow with a code
      out.push(error.data.fieldErrors);
    }
  }

  // @ts-expect-error TS2345 refreshToken without onTokens would lose the rotated tokens
  out.push(createAgoraClient({ url: "http://localhost:3000", refreshToken: () => "r" }));

  return out;
}

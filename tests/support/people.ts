import type { AgoraClient, RouterOutputs } from "@agora/client";
import { createMarket, createProduct } from "./marketplace.js";
import { ADMIN, startTestServer, type TestServer } from "./server.js";

/** The tests' one set of user fixtures: registering, signing in, the usual cast. */

export type AuthResult = RouterOutputs["auth"]["register"];

let counter = 0;
/** A unique, valid registration; override any field. */
export function newUserInput(
  overrides: Partial<{ email: string; username: string; password: string; name: string }> = {},
) {
  counter += 1;
  const tag = `${Date.now().toString(36)}${counter}${Math.random().toString(36).slice(2, 6)}`;
  return {
    email: `user_${tag}@example.com`,
    username: `user_${tag}`.slice(0, 30),
    password: "Passw0rdGood",
    ...overrides,
  };
}

/**
 * A signed-in user: what signing up or in answered (`user`, `tokens`), a client acting as
 * them (`api`), and the credentials they signed in with (`input`).
 */
export type UserSession = AuthResult & {
  api: AgoraClient;
  input: { email: string; username: string; password: string; name?: string };
};

/** Registers a fresh user and returns it with a client that acts as that user. */
export async function registerUser(
  ts: TestServer,
  overrides: Parameters<typeof newUserInput>[0] = {},
): Promise<UserSession> {
  const input = newUserInput(overrides);
  const result = await ts.client().auth.register.mutate(input);
  return { ...result, api: ts.client({ token: result.tokens.accessToken }), input };
}

/** A new session of an existing account. */
export async function signIn(ts: TestServer, email: string, password: string): Promise<UserSession> {
  const result = await ts.client().auth.login.mutate({ email, password });
  return {
    ...result,
    api: ts.client({ token: result.tokens.accessToken }),
    input: { email, password, username: result.user.username },
  };
}

/** Signs in as the admin seeded from ADMIN_EMAIL/ADMIN_PASSWORD at startup. */
export function loginAdmin(ts: TestServer): Promise<UserSession> {
  return signIn(ts, ADMIN.email, ADMIN.password);
}

/** A newly registered user, made ADMIN by `admin`. */
export async function newAdmin(ts: TestServer, admin: UserSession): Promise<UserSession> {
  const session = await registerUser(ts);
  await admin.api.users.setRole.mutate({ id: session.user.id, role: "ADMIN" });
  return session;
}

export interface Cast {
  ts: TestServer;
  /** Three freshly registered users; take as many as the file needs. */
  users: [UserSession, UserSession, UserSession];
  /** The seeded admin's client. */
  admin: AgoraClient;
  anon: AgoraClient;
}

/** The usual cast of a domain test file: a server, three users, the admin and an anonymous client. */
export async function startCast(): Promise<Cast> {
  const ts = await startTestServer();
  const users: Cast["users"] = [await registerUser(ts), await registerUser(ts), await registerUser(ts)];
  return { ts, users, admin: (await loginAdmin(ts)).api, anon: ts.client() };
}

/** An ACTIVE market of `of` with one product in stock. */
export async function activeMarketWithProduct(
  of: UserSession,
): Promise<{ marketId: string; productId: string }> {
  const market = await createMarket(of.api, { status: "ACTIVE" });
  const product = await createProduct(of.api, market.id, { stock: 1000 });
  return { marketId: market.id, productId: product.id };
}

/** An order `buyer` places in a new market of `seller`; its id. */
export async function placeOrder(buyer: UserSession, seller: UserSession): Promise<string> {
  const order = await activeMarketWithProduct(seller).then(({ marketId, productId }) =>
    buyer.api.orders.create.mutate({ marketId, items: [{ productId, quantity: 1 }] }),
  );
  return order.id;
}

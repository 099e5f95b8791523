import type { AgoraClient, Tokens } from "@agora/client";
import { createMarket, createProduct } from "./marketplace.js";
import { newUserInput, type TestServer } from "./server.js";

/** A signed-in person: their credentials, tokens and a client acting as them. */
export interface Person {
  id: string;
  email: string;
  password: string;
  tokens: Tokens;
  api: AgoraClient;
}

/** A new session of an existing account. */
export async function signIn(ts: TestServer, email: string, password: string): Promise<Person> {
  const { user, tokens } = await ts.client().auth.login.mutate({ email, password });
  return { id: user.id, email, password, tokens, api: ts.client({ token: tokens.accessToken }) };
}

/** A newly registered user. */
export async function newPerson(ts: TestServer): Promise<Person> {
  const input = newUserInput();
  const { user, tokens } = await ts.client().auth.register.mutate(input);
  return {
    id: user.id,
    email: input.email,
    password: input.password,
    tokens,
    api: ts.client({ token: tokens.accessToken }),
  };
}

/** A newly registered user, made ADMIN by `admin`. */
export async function newAdmin(ts: TestServer, admin: Person): Promise<Person> {
  const person = await newPerson(ts);
  await admin.api.users.setRole.mutate({ id: person.id, role: "ADMIN" });
  return person;
}

/** An ACTIVE market of `of` with one product in stock. */
export async function activeMarketWithProduct(of: Person): Promise<{ marketId: string; productId: string }> {
  const market = await createMarket(of.api, { status: "ACTIVE" });
  const product = await createProduct(of.api, market.id, { stock: 1000 });
  return { marketId: market.id, productId: product.id };
}

/** An order `buyer` places in a new market of `seller`; its id. */
export async function placeOrder(buyer: Person, seller: Person): Promise<string> {
  const { marketId, productId } = await activeMarketWithProduct(seller);
  const order = await buyer.api.orders.create.mutate({ marketId, items: [{ productId, quantity: 1 }] });
  return order.id;
}

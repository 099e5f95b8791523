import {
  canSeeMarket,
  canSeePost,
  visibleMarketsSql,
  visiblePostsWhere,
  type Principal,
} from "@agora/server/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMarket } from "./support/marketplace.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { loginAdmin, registerUser } from "./support/people.js";
import { viewersAround } from "./support/viewers.js";

/**
 * The list filters are the policies' predicates in another language: `visibleMarketsSql`
 * (what markets.list runs) and `visiblePostsWhere` (posts.list). Here they run on the suite's
 * database (embedded or real PostgreSQL) over markets in every status of two owners and posts
 * of every kind, and must select exactly what `canSeeMarket` and `canSeePost` let through,
 * for every kind of caller.
 */

let ts: TestServer;
let viewers: Record<string, Principal | null>;

beforeAll(async () => {
  ts = await startTestServer();
  const [alice, bob] = [await registerUser(ts), await registerUser(ts)];
  const admin = await loginAdmin(ts);
  const authors = [alice, bob, admin];
  for (const owner of [alice, bob]) {
    const [draft, active, closed] = [
      await createMarket(owner.api, { status: "DRAFT" }),
      await createMarket(owner.api, { status: "ACTIVE" }),
      await createMarket(owner.api, { status: "ACTIVE" }),
    ];
    await owner.api.markets.update.mutate({ id: closed.id, data: { status: "CLOSED" } });
    // Posts by everyone who can see the market (drafts: their owner and the admin), and
    // posts in no market, each published and not.
    for (const author of authors) {
      const markets = author === owner || author === admin ? [draft, active, closed] : [active, closed];
      for (const marketId of [undefined, ...markets.map((m) => m.id)]) {
        for (const published of [true, false]) {
          await author.api.posts.create.mutate({
            title: "A post",
            content: "Its text",
            published,
            ...(marketId ? { marketId } : {}),
          });
        }
      }
    }
  }
  viewers = {
    ...viewersAround(alice.user.id, bob.user.id),
    // A user who owns nothing and wrote nothing.
    outsider: {
      kind: "user",
      id: (await registerUser(ts)).user.id,
      role: "USER",
      sessionId: "s",
      tokenExpiresAtMs: Number.MAX_SAFE_INTEGER,
    },
  };
});

afterAll(async () => {
  await ts.close();
});

describe("the SQL and Prisma forms of the visibility rules select what the predicates allow", () => {
  it("markets: visibleMarketsSql against canSeeMarket", async () => {
    const { sql } = ts.server.infra.database;
    const all = await sql.rows<{ id: string; ownerId: string; status: "DRAFT" | "ACTIVE" | "CLOSED" }>(
      `SELECT id, owner_id AS "ownerId", status::text AS status FROM markets`,
      [],
    );
    expect(new Set(all.map((m) => m.status))).toEqual(new Set(["DRAFT", "ACTIVE", "CLOSED"]));
    for (const [name, viewer] of Object.entries(viewers)) {
      const values: string[] = [];
      const condition = visibleMarketsSql(viewer, (value) => {
        values.push(value);
        return `$${String(values.length)}`;
      });
      const selected = await sql.rows<{ id: string }>(
        `SELECT m.id FROM markets m${condition === null ? "" : ` WHERE ${condition}`}`,
        values,
      );
      const expected = all.filter((m) => canSeeMarket(viewer, m)).map((m) => m.id);
      expect(selected.map((m) => m.id).sort(), name).toEqual(expected.sort());
      // Each caller is refused something or sees all, as the policy says: the comparison is not vacuous.
      if (name === "anonymous") expect(expected.length).toBeLessThan(all.length);
    }
  });

  it("posts: visiblePostsWhere against canSeePost", async () => {
    const prisma = ts.server.infra.database.prisma;
    const all = await prisma.post.findMany({
      select: {
        id: true,
        published: true,
        authorId: true,
        market: { select: { ownerId: true, status: true } },
      },
    });
    expect(all.length).toBeGreaterThan(20);
    for (const [name, viewer] of Object.entries(viewers)) {
      const selected = await prisma.post.findMany({ where: visiblePostsWhere(viewer), select: { id: true } });
      const expected = all.filter((p) => canSeePost(viewer, p)).map((p) => p.id);
      expect(selected.map((p) => p.id).sort(), name).toEqual(expected.sort());
      if (name === "anonymous") expect(expected.length).toBeLessThan(all.length);
    }
  });
});

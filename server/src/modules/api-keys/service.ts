import type { ApiKey } from "../../generated/prisma/client.js";
import type { Cache } from "../../infra/cache/cache.js";
import type { Db } from "../../infra/database/db.js";
import { cacheGroups } from "../../shared/cache-groups.js";
import { NotFoundError } from "../../shared/errors.js";
import type { Principal, Role } from "../../shared/principal.js";
import { hashSecret, newSecret } from "../auth/tokens.js";
import type { ApiKeyCreateInput } from "./schemas.js";

const KEY_PREFIX = "agk_";
/** What `create` hands out: the prefix and 32 random bytes in base64url (43 characters). */
const KEY_FORMAT = new RegExp(`^${KEY_PREFIX}[A-Za-z0-9_-]{43}$`);
const RECORD_USE_EVERY_MS = 60_000;

/** What authenticating a key needs, cached by key hash; null for an unknown key. */
type KeyCheck = { id: string; role: Role; revoked: boolean; expiresAt: Date | null } | null;

/** API keys for internal services: shown once at creation, stored as SHA-256 only. */
export class ApiKeyService {
  /** When this instance last recorded each key's use. */
  private readonly lastRecorded = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly cache: Cache,
  ) {}

  async create(
    input: ApiKeyCreateInput,
    createdById: string,
  ): Promise<{ id: string; name: string; key: string }> {
    const key = newSecret(KEY_PREFIX);
    const row = await this.db.apiKey.create({
      data: {
        name: input.name,
        role: input.role,
        expiresAt: input.expiresAt ?? null,
        prefix: key.slice(0, KEY_PREFIX.length + 6),
        keyHash: hashSecret(key),
        createdById,
      },
    });
    return { id: row.id, name: row.name, key };
  }

  async list(): Promise<ApiKey[]> {
    return this.db.apiKey.findMany({ orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
  }

  async revoke(id: string): Promise<void> {
    const result = await this.db.apiKey.updateMany({
      where: { id, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    if (result.count === 0 && !(await this.db.apiKey.findUnique({ where: { id }, select: { id: true } }))) {
      throw new NotFoundError("API key");
    }
    // A revoked key must stop working on every instance before this returns.
    await this.cache.invalidateOrThrow([cacheGroups.apiKeys]);
  }

  async authenticate(key: string): Promise<Principal | null> {
    // Anything that is not shaped like a key we issued costs neither a lookup nor a cache entry.
    if (!KEY_FORMAT.test(key)) return null;
    const keyHash = hashSecret(key);
    const check = await this.cache.getOrLoad<KeyCheck>(
      "api-key",
      `api-key:${keyHash}`,
      [cacheGroups.apiKeys],
      async () => {
        const row = await this.db.apiKey.findUnique({
          where: { keyHash },
          select: { id: true, role: true, revokedAt: true, expiresAt: true },
        });
        return (
          row && { id: row.id, role: row.role, revoked: row.revokedAt !== null, expiresAt: row.expiresAt }
        );
      },
      { alwaysOn: true },
    );
    const now = Date.now();
    if (!check || check.revoked || (check.expiresAt && check.expiresAt.getTime() <= now)) return null;
    // Record use at most once a minute per instance: enough to spot stale keys, no write per call.
    if (now - (this.lastRecorded.get(check.id) ?? 0) > RECORD_USE_EVERY_MS) {
      this.lastRecorded.set(check.id, now);
      await this.db.apiKey.update({ where: { id: check.id }, data: { lastUsedAt: new Date(now) } });
    }
    return { kind: "apiKey", id: check.id, role: check.role };
  }
}

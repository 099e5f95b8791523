import type { ApiKey } from "../../generated/prisma/client.js";
import type { Db } from "../../infra/db.js";
import { NotFoundError } from "../../shared/errors.js";
import type { Principal } from "../../shared/principal.js";
import { hashSecret, newSecret } from "../auth/tokens.js";
import type { ApiKeyCreateInput } from "./schemas.js";

const KEY_PREFIX = "agk_";

/** API keys for internal services: shown once at creation, stored as SHA-256 only. */
export class ApiKeyService {
  constructor(private readonly db: Db) {}

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
  }

  async authenticate(key: string): Promise<Principal | null> {
    if (!key.startsWith(KEY_PREFIX)) return null;
    const row = await this.db.apiKey.findUnique({ where: { keyHash: hashSecret(key) } });
    const now = new Date();
    if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) return null;
    // Record use at most once a minute: enough to spot stale keys, no write on every call.
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 60_000) {
      await this.db.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: now } });
    }
    return { kind: "apiKey", id: row.id, role: row.role };
  }
}

# syntax=docker/dockerfile:1
#
# Agora's production image: `node server/dist/main.js` on Node 20, as the unprivileged `node`
# user, with production dependencies only. It applies pending migrations at start
# (MIGRATE_ON_START, default true) from prisma/migrations, in-process.
#
#   docker build -t agora .
#   docker run -p 3000:3000 -e JWT_SECRET=... -e DATABASE_URL=postgresql://... agora
#
# Without DATABASE_URL the server uses the embedded database in /data/agora (mount a volume
# at /data to keep it); production deployments should use PostgreSQL (docker-compose.yml).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS builder
# The version of package.json's "packageManager" (corepack is not used: it needs its own
# download and signature check at build time).
ARG PNPM_VERSION=10.34.9
ENV CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1
RUN npm install -g pnpm@${PNPM_VERSION}
WORKDIR /app
# The lockfile alone decides what is downloaded, so this layer is reused until it changes
# (with the patches it names: pnpm fetch checks they are there; and the pnpmfile, whose
# checksum the lockfile records).
COPY pnpm-lock.yaml pnpm-workspace.yaml .pnpmfile.cjs ./
COPY patches ./patches
RUN pnpm fetch
COPY . .
# The root postinstall runs `prisma generate` (the client is compiled into dist/) and builds
# the embedded database template (a development shortcut the image does not use).
RUN pnpm install --frozen-lockfile --offline
RUN pnpm --filter @agora/server build
# The server's production dependencies alone, in a self-contained node_modules (the Prisma
# CLI among them, with @prisma/adapter-pg and pg that prisma.config.ts loads). The legacy
# deploy resolves them again, so it may read package metadata from the registry.
RUN pnpm --filter @agora/server deploy --prod --legacy --prefer-offline /prod/server

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data/agora \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1
WORKDIR /app
# The server takes the directory two levels above server/dist/ for the repository root and
# reads the migrations from prisma/migrations there, so the image keeps the repository's
# layout. prisma.config.ts and the schema are not needed to start; they are here for the
# Prisma CLI in operations (`node_modules/.bin/prisma migrate status --config prisma.config.ts`,
# or `migrate resolve` after a failed migration). Everything is owned by root and read-only to
# the `node` user that runs it.
COPY --from=builder /prod/server/node_modules ./node_modules
COPY --from=builder /prod/server/package.json ./server/package.json
COPY --from=builder /app/server/dist ./server/dist
COPY --from=builder /app/server/public ./server/public
COPY --from=builder /app/prisma.config.ts ./prisma.config.ts
COPY --from=builder /app/prisma/schema.prisma ./prisma/schema.prisma
COPY --from=builder /app/prisma/migrations ./prisma/migrations
# The only place the app writes: the embedded database (when DATABASE_URL is unset) and the
# mail outbox (when SMTP_URL is unset). Its lock is made beside DATA_DIR, so the parent is
# the user's too.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1: main.ts handles SIGTERM (drain, close, exit 0), which is what `docker stop` sends.
CMD ["node", "server/dist/main.js"]

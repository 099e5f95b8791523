-- CreateTable
CREATE TABLE "subscription_tickets" (
    "token_hash" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "token_expires_at" TIMESTAMP(3) NOT NULL,
    "expires_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "subscription_tickets_pkey" PRIMARY KEY ("token_hash")
);

-- CreateIndex
CREATE INDEX "subscription_tickets_session_id_idx" ON "subscription_tickets"("session_id");

-- CreateIndex
CREATE INDEX "subscription_tickets_expires_at_idx" ON "subscription_tickets"("expires_at");

-- AddForeignKey
ALTER TABLE "subscription_tickets" ADD CONSTRAINT "subscription_tickets_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "auth_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

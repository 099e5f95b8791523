-- orders.create in one statement (server/src/modules/orders/place.ts calls it).
--
-- Run as a single statement in autocommit, the whole function is one transaction: a line
-- short of stock or of another market raises, and the raise rolls back every write before it.
-- The lock order is that of every writer of a market's rows: the market row first (FOR NO KEY
-- UPDATE; markets.update/delete take FOR UPDATE, orders.cancel FOR NO KEY UPDATE), then its
-- products. Each statement of a VOLATILE plpgsql function reads a fresh snapshot, so what is
-- read after the lock is what the previous holder committed.
--
-- Outcomes (nothing is written unless 'placed'):
--   'existing'  the user's order with this idempotency key (the order columns are filled);
--   'no_market' no such market;
--   'inactive'  the market is not ACTIVE (market_owner_id and market_status are filled: the
--               caller decides between NOT_FOUND for a draft it may not see and CONFLICT);
--   'placed'    the order, its lines, the market's new volume.
-- Raised (SQLSTATE, DETAIL as JSON):
--   'AGO01' lines whose product is not in this market: DETAIL is their indexes;
--   'AGO02' the first line short of stock: DETAIL is { productId, available, requested, name };
--   'AGO03' the confirmation job's queue does not exist (pg-boss has not created it).
-- A unique violation on (user_id, idempotency_key) is raised as is (23505): the same key won
-- a race in another market; the caller reads the winner's order.
--
-- The confirmation job is inserted as pg-boss 10's send() inserts it (its insertJob plan, with
-- no per-job options: the queue's settings, else pg-boss's defaults), in this transaction:
-- tests/orders-write-path.test.ts compares the row with one pg-boss inserts.
CREATE FUNCTION "place_order"(
  p_market_id text,
  p_user_id text,
  p_product_ids text[],
  p_quantities integer[],
  p_idempotency_key text,
  p_queue text
)
RETURNS TABLE (
  outcome text,
  order_id text,
  market_id text,
  user_id text,
  status text,
  total_cents text,
  created_at timestamptz,
  items jsonb,
  volume_cents text,
  market_owner_id text,
  market_status text
)
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_owner text;
  v_status text;
  v_id text;
  v_taken text[];
  v_bad jsonb;
  v_short jsonb;
  v_total bigint;
  v_created timestamp;
  v_volume bigint;
  v_items jsonb;
  v_job uuid;
BEGIN
  IF p_idempotency_key IS NOT NULL THEN
    -- A retry of a committed order: answered without waiting for the market's lock.
    RETURN QUERY SELECT 'existing', o.id, o.market_id, o.user_id, o.status::text, o.total_cents::text,
        o.created_at AT TIME ZONE 'UTC',
        (SELECT jsonb_agg(jsonb_build_object('productId', i.product_id, 'quantity', i.quantity,
                 'unitPriceCents', i.unit_price_cents) ORDER BY i.product_id)
           FROM order_items i WHERE i.order_id = o.id),
        NULL::text, NULL::text, NULL::text
      FROM orders o WHERE o.user_id = p_user_id AND o.idempotency_key = p_idempotency_key;
    IF FOUND THEN RETURN; END IF;
  END IF;

  SELECT m.owner_id, m.status::text INTO v_owner, v_status
    FROM markets m WHERE m.id = p_market_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'no_market', NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
      NULL::timestamptz, NULL::jsonb, NULL::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  IF v_status <> 'ACTIVE' THEN
    RETURN QUERY SELECT 'inactive', NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
      NULL::timestamptz, NULL::jsonb, NULL::text, v_owner, v_status;
    RETURN;
  END IF;

  IF p_idempotency_key IS NOT NULL THEN
    -- The same key raced us on this market and committed while we waited for the lock.
    RETURN QUERY SELECT 'existing', o.id, o.market_id, o.user_id, o.status::text, o.total_cents::text,
        o.created_at AT TIME ZONE 'UTC',
        (SELECT jsonb_agg(jsonb_build_object('productId', i.product_id, 'quantity', i.quantity,
                 'unitPriceCents', i.unit_price_cents) ORDER BY i.product_id)
           FROM order_items i WHERE i.order_id = o.id),
        NULL::text, NULL::text, NULL::text
      FROM orders o WHERE o.user_id = p_user_id AND o.idempotency_key = p_idempotency_key;
    IF FOUND THEN RETURN; END IF;
  END IF;

  -- Every line's stock in one conditional update: only where there is enough, so concurrent
  -- writers can never drive it below zero.
  WITH taken AS (
    UPDATE products AS p SET stock = p.stock - l.quantity
      FROM unnest(p_product_ids, p_quantities) AS l(product_id, quantity)
      WHERE p.id = l.product_id AND p.market_id = p_market_id AND p.stock >= l.quantity
      RETURNING p.id
  )
  SELECT coalesce(array_agg(taken.id), '{}') INTO v_taken FROM taken;

  IF cardinality(v_taken) <> cardinality(p_product_ids) THEN
    SELECT jsonb_agg(l.n - 1 ORDER BY l.n) INTO v_bad
      FROM unnest(p_product_ids) WITH ORDINALITY AS l(product_id, n)
      WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = l.product_id AND p.market_id = p_market_id);
    IF v_bad IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'AGO01', MESSAGE = 'order lines of another market', DETAIL = v_bad::text;
    END IF;
    SELECT jsonb_build_object('productId', p.id, 'available', p.stock, 'requested', l.quantity, 'name', p.name)
      INTO v_short
      FROM unnest(p_product_ids, p_quantities) WITH ORDINALITY AS l(product_id, quantity, n)
      JOIN products p ON p.id = l.product_id
      WHERE NOT (l.product_id = ANY (v_taken))
      ORDER BY l.n LIMIT 1;
    RAISE EXCEPTION USING ERRCODE = 'AGO02', MESSAGE = 'not enough stock', DETAIL = v_short::text;
  END IF;

  -- The lines' prices as they are now: this transaction holds their rows since the update.
  SELECT sum(p.price_cents::bigint * l.quantity) INTO v_total
    FROM unnest(p_product_ids, p_quantities) AS l(product_id, quantity)
    JOIN products p ON p.id = l.product_id;

  v_id := gen_random_uuid()::text;
  INSERT INTO orders (id, market_id, user_id, total_cents, idempotency_key, created_at)
    VALUES (v_id, p_market_id, p_user_id, v_total, p_idempotency_key, now() AT TIME ZONE 'UTC')
    RETURNING orders.created_at INTO v_created;

  WITH lines AS (
    INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
      SELECT v_id, l.product_id, l.quantity, p.price_cents
        FROM unnest(p_product_ids, p_quantities) AS l(product_id, quantity)
        JOIN products p ON p.id = l.product_id
      RETURNING order_items.product_id, order_items.quantity, order_items.unit_price_cents
  )
  SELECT jsonb_agg(jsonb_build_object('productId', lines.product_id, 'quantity', lines.quantity,
      'unitPriceCents', lines.unit_price_cents) ORDER BY lines.product_id)
    INTO v_items FROM lines;

  UPDATE markets SET volume_cents = markets.volume_cents + v_total
    WHERE markets.id = p_market_id
    RETURNING markets.volume_cents INTO v_volume;

  INSERT INTO pgboss.job (id, name, data, priority, start_after, singleton_key, singleton_on,
      dead_letter, expire_in, keep_until, retry_limit, retry_delay, retry_backoff, policy)
    SELECT gen_random_uuid(), q.name, jsonb_build_object('orderId', v_id), 0, now(), NULL, NULL,
      q.dead_letter,
      CASE WHEN q.expire_seconds IS NOT NULL THEN q.expire_seconds * interval '1s'
        ELSE interval '15 minutes' END,
      now() + CAST(COALESCE((q.retention_minutes * 60)::text, '14 days') AS interval),
      COALESCE(q.retry_limit, 2),
      CASE WHEN COALESCE(q.retry_backoff, false) THEN GREATEST(q.retry_delay, 1)
        ELSE COALESCE(q.retry_delay, 0) END,
      COALESCE(q.retry_backoff, false),
      q.policy
    FROM pgboss.queue q WHERE q.name = p_queue
    RETURNING id INTO v_job;
  IF v_job IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'AGO03', MESSAGE = format('no job queue %s', p_queue);
  END IF;

  RETURN QUERY SELECT 'placed', v_id, p_market_id, p_user_id, 'CONFIRMED', v_total::text,
    v_created AT TIME ZONE 'UTC', v_items, v_volume::text, NULL::text, NULL::text;
END
$$;

/**
 * PostgreSQL schema, applied in order by `tessera migrate` (migrate.ts); tessera_schema records
 * how far a database has come. Times are milliseconds since the epoch (bigint).
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE clients (
    id text PRIMARY KEY,
    name text NOT NULL,
    secret_hash text,
    auth_method text NOT NULL,
    grant_types jsonb NOT NULL,
    redirect_uris jsonb NOT NULL,
    scope text NOT NULL,
    token_format text NOT NULL,
    access_ttl integer,
    refresh_ttl integer,
    created_at bigint NOT NULL
  );

  CREATE TABLE users (
    id text PRIMARY KEY,
    username text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at bigint NOT NULL
  );

  CREATE TABLE grants (
    id text PRIMARY KEY,
    client_id text NOT NULL,
    user_id text,
    scope text NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint
  );
  -- One live grant per (client, user), a client-credentials grant (no user) included: a second
  -- one, from any process, is a unique violation that the store answers as 'conflict'.
  CREATE UNIQUE INDEX grants_live ON grants (client_id, user_id) NULLS NOT DISTINCT WHERE revoked_at IS NULL;
  CREATE INDEX grants_user ON grants (user_id);
  CREATE INDEX grants_client ON grants (client_id);
  CREATE INDEX grants_revoked ON grants (revoked_at) WHERE revoked_at IS NOT NULL;

  -- Found by id (the id an opaque token's value carries, a JWT's jti), then the hash compared.
  CREATE TABLE tokens (
    id text PRIMARY KEY,
    hash text NOT NULL,
    kind text NOT NULL,
    format text NOT NULL,
    grant_id text NOT NULL,
    family_id text NOT NULL,
    parent_id text,
    client_id text NOT NULL,
    user_id text,
    scope text NOT NULL,
    issued_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    revoked_at bigint,
    consumed_at bigint
  );
  CREATE INDEX tokens_grant_family ON tokens (grant_id, family_id);
  CREATE INDEX tokens_expires ON tokens (expires_at);

  CREATE TABLE codes (
    id text PRIMARY KEY,
    hash text NOT NULL,
    grant_id text NOT NULL,
    client_id text NOT NULL,
    user_id text NOT NULL,
    scope text NOT NULL,
    redirect_uri text NOT NULL,
    code_challenge text,
    code_challenge_method text,
    issued_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    redeemed_at bigint
  );
  CREATE INDEX codes_grant ON codes (grant_id);
  CREATE INDEX codes_user ON codes (user_id);
  CREATE INDEX codes_client ON codes (client_id);
  CREATE INDEX codes_expires ON codes (expires_at);

  CREATE TABLE sessions (
    hash text PRIMARY KEY,
    user_id text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX sessions_user ON sessions (user_id);
  CREATE INDEX sessions_expires ON sessions (expires_at);

  CREATE TABLE keys (
    kid text PRIMARY KEY,
    alg text NOT NULL,
    private_jwk text NOT NULL,
    public_jwk text NOT NULL,
    created_at bigint NOT NULL,
    retire_at bigint
  );

  -- The audit log (audit/chain.ts): several hash chains, so that concurrent transactions do not
  -- queue on one head row; each transaction extends a chain no other holds (FOR UPDATE SKIP
  -- LOCKED). seq comes from a sequence: unique and increasing within a chain (its head row is
  -- locked from nextval to commit), roughly by time across chains. data is the JSON text that was
  -- hashed (jsonb would reorder its keys).
  CREATE SEQUENCE audit_seq;
  CREATE TABLE audit (
    seq bigint PRIMARY KEY,
    chain integer NOT NULL,
    at bigint NOT NULL,
    event text NOT NULL,
    actor text NOT NULL,
    client_id text,
    user_id text,
    grant_id text,
    token_id text,
    reason text,
    endpoint text,
    data text,
    prev_hash text NOT NULL,
    hash text NOT NULL
  );
  CREATE INDEX audit_at ON audit (at);
  CREATE TABLE audit_chains (
    chain integer PRIMARY KEY,
    records bigint NOT NULL,
    seq bigint NOT NULL,
    hash text NOT NULL
  );
  INSERT INTO audit_chains (chain, records, seq, hash) SELECT n, 0, 0, 'genesis' FROM generate_series(0, 31) AS n;

  -- The revocation feed. A sequence alone is not commit order; every append takes one
  -- transaction-scoped advisory lock first (writes.ts), so seq order is commit order and a reader
  -- past seq N has seen every event below it. A sequence never reuses a value, even after a sweep.
  CREATE SEQUENCE revocation_feed_seq;
  CREATE TABLE revocation_feed (
    seq bigint PRIMARY KEY,
    at bigint NOT NULL,
    kind text NOT NULL,
    value text NOT NULL,
    until bigint NOT NULL
  );
  CREATE INDEX revocation_feed_until ON revocation_feed (until);

  -- The writes on the request path (writes.ts) are functions: one round trip each, instead of one
  -- per statement of a transaction. Each runs in its statement's own transaction.
  CREATE FUNCTION tessera_b64url(b bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT translate(encode(b, 'base64'), '+/=' || chr(10), '-_')
  $$;

  -- Appends records (each {at, body, event, actor, client_id, ...}; body from audit/chain.ts
  -- recordBody, over the same at) to a chain no other transaction holds, hashing them as
  -- hashRecord does.
  CREATE FUNCTION tessera_append_audit(p_audit jsonb) RETURNS void LANGUAGE plpgsql AS $$
  DECLARE
    h record;
    c integer;
    r jsonb;
    s bigint;
    prev text;
    n integer := jsonb_array_length(p_audit);
  BEGIN
    IF n = 0 THEN RETURN; END IF;
    -- This backend's own chain when free (each pooled connection mostly writes to one chain, no
    -- sort and no contention), else any free one, else wait for one.
    SELECT chain, hash INTO h FROM audit_chains WHERE chain = pg_backend_pid() % 32 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
      SELECT chain, hash INTO h FROM audit_chains ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
      -- More writers than chains: wait for one (chosen once: random() in the WHERE clause would be
      -- drawn again for every row).
      c := floor(random() * 32)::integer;
      SELECT chain, hash INTO h FROM audit_chains WHERE chain = c FOR UPDATE;
    END IF;
    prev := h.hash;
    FOR r IN SELECT value FROM jsonb_array_elements(p_audit) LOOP
      -- Taken under the chain's lock: seq increases along the chain.
      s := nextval('audit_seq');
      INSERT INTO audit (seq, chain, at, event, actor, client_id, user_id, grant_id, token_id, reason, endpoint, data, prev_hash, hash)
      VALUES (s, h.chain, (r->>'at')::bigint, r->>'event', r->>'actor', r->>'client_id', r->>'user_id', r->>'grant_id', r->>'token_id', r->>'reason',
        r->>'endpoint', r->>'data', prev, tessera_b64url(sha256(convert_to('[' || s || ',' || (r->>'body') || ',"' || prev || '"]', 'UTF8'))))
      RETURNING hash INTO prev;
    END LOOP;
    UPDATE audit_chains SET records = records + n, seq = s, hash = prev WHERE chain = h.chain;
  END $$;

  -- Writes that depend on a client, user or grant hold a shared transaction-scoped advisory lock
  -- on it until commit; a change of it (a secret, a password, a deletion, a revocation) holds the
  -- exclusive one first. So the change waits for the writes in flight, and its next statement (a
  -- new snapshot) sees what they wrote; writes that start later see the change. Advisory locks
  -- live in shared memory: unlike a row lock (FOR SHARE), taking one writes nothing, which matters
  -- on a client or grant row every request of that client would lock. Always taken in the order
  -- client, user, grant (revocations lock several grants in id order), so they cannot deadlock
  -- among themselves; the only row locks taken besides are a session's (after its user's lock)
  -- and the rows a statement changes. A deadlock with the sweeper (tokens deleted in another
  -- order) aborts one transaction, which the store runs again (connection.ts).
  CREATE FUNCTION tessera_lock_key(kind text, id text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT hashtextextended(kind || ':' || id, 0)
  $$;
  CREATE FUNCTION tessera_share(kind text, id text) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock_shared(tessera_lock_key(kind, id))
  $$;
  CREATE FUNCTION tessera_hold(kind text, id text) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(tessera_lock_key(kind, id))
  $$;
  CREATE FUNCTION tessera_hold_grants(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
  DECLARE
    g text;
  BEGIN
    FOR g IN SELECT DISTINCT unnest(ids) ORDER BY 1 LOOP
      PERFORM tessera_hold('grant', g);
    END LOOP;
  END $$;

  -- CheckedCredentials (store/types.ts) still stored, compared under the shared locks (above).
  CREATE FUNCTION tessera_unchanged(c jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
  BEGIN
    IF c IS NULL THEN RETURN true; END IF;
    IF c ? 'client' THEN
      PERFORM tessera_share('client', c->'client'->>'id');
      PERFORM 1 FROM clients WHERE id = c->'client'->>'id' AND secret_hash IS NOT DISTINCT FROM c->'client'->>'secretHash';
      IF NOT FOUND THEN RETURN false; END IF;
    END IF;
    IF c ? 'user' THEN
      PERFORM tessera_share('user', c->'user'->>'id');
      PERFORM 1 FROM users WHERE id = c->'user'->>'id' AND password_hash = c->'user'->>'passwordHash';
      IF NOT FOUND THEN RETURN false; END IF;
    END IF;
    IF c ? 'session' THEN
      -- A session's row (one browser's) is locked FOR SHARE: ending it (DELETE) waits for this write.
      -- Its user's shared lock first: setPassword and deleteUser hold the exclusive one before they
      -- delete sessions, so the two never wait for each other the other way round.
      PERFORM tessera_share('user', c->'session'->>'userId');
      PERFORM 1 FROM sessions WHERE hash = c->'session'->>'hash' AND user_id = c->'session'->>'userId' FOR SHARE;
      IF NOT FOUND THEN RETURN false; END IF;
    END IF;
    RETURN true;
  END $$;

  -- A new grant's client and user (null: none) still exist, under their shared locks: a deletion
  -- waits for the write that creates the grant.
  CREATE FUNCTION tessera_principals_exist(p_client text, p_user text) RETURNS boolean LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM tessera_share('client', p_client);
    PERFORM 1 FROM clients WHERE id = p_client;
    IF NOT FOUND THEN RETURN false; END IF;
    IF p_user IS NOT NULL THEN
      PERFORM tessera_share('user', p_user);
      PERFORM 1 FROM users WHERE id = p_user;
      IF NOT FOUND THEN RETURN false; END IF;
    END IF;
    RETURN true;
  END $$;

  -- Every token's grant exists and is live, under the grants' shared locks: a revocation waits for
  -- this write, then revokes its tokens too.
  CREATE FUNCTION tessera_grants_live(p_tokens jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
  DECLARE
    ids text[] := ARRAY(SELECT DISTINCT value->>'grant_id' FROM jsonb_array_elements(p_tokens) ORDER BY 1);
    g text;
    n integer;
  BEGIN
    FOREACH g IN ARRAY ids LOOP
      PERFORM tessera_share('grant', g);
    END LOOP;
    SELECT count(*) INTO n FROM grants WHERE id = ANY(ids) AND revoked_at IS NULL;
    RETURN n = cardinality(ids);
  END $$;

  CREATE FUNCTION tessera_issue_tokens(p_tokens jsonb, p_audit jsonb, p_grant jsonb, p_checked jsonb) RETURNS text LANGUAGE plpgsql AS $$
  BEGIN
    IF NOT tessera_unchanged(p_checked) THEN RETURN 'credential-changed'; END IF;
    IF p_grant IS NOT NULL THEN
      IF NOT tessera_principals_exist(p_grant->>'client_id', p_grant->>'user_id') THEN RETURN 'grant-revoked'; END IF;
      -- Another live grant of the pair: it won (the caller retries with it), as on SQLite.
      PERFORM 1 FROM grants WHERE client_id = p_grant->>'client_id' AND user_id IS NOT DISTINCT FROM p_grant->>'user_id'
        AND revoked_at IS NULL AND id <> p_grant->>'id';
      IF FOUND THEN RETURN 'conflict'; END IF;
      PERFORM 1 FROM grants WHERE id = p_grant->>'id' AND revoked_at IS NOT NULL;
      IF FOUND THEN RETURN 'grant-revoked'; END IF;
      -- A second live grant of the pair is a unique violation (grants_live), which the store answers as 'conflict'.
      INSERT INTO grants SELECT * FROM jsonb_populate_record(NULL::grants, p_grant) ON CONFLICT (id) DO UPDATE SET scope = EXCLUDED.scope;
    END IF;
    -- Raised, not returned, so that the grant written above is rolled back too (writes.ts maps it).
    IF NOT tessera_grants_live(p_tokens) THEN RAISE EXCEPTION 'grant-revoked' USING ERRCODE = 'TS001'; END IF;
    INSERT INTO tokens SELECT * FROM jsonb_populate_recordset(NULL::tokens, p_tokens);
    PERFORM tessera_append_audit(p_audit);
    RETURN 'issued';
  END $$;

  -- Issuances on existing grants from one turn of a server's event loop, in one transaction and one
  -- commit (postgres-store.ts batches them): each item answers for itself, and an item whose
  -- check fails writes nothing (every check comes before its writes).
  CREATE FUNCTION tessera_issue_batch(p_items jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
  DECLARE
    item jsonb;
    outcomes text[] := '{}';
    audit jsonb := '[]';
    -- A batch mostly repeats one client and one grant: what was found true stays true, since this
    -- transaction holds their shared locks until it commits (a change would need the exclusive one).
    checked_ok jsonb[] := '{}';
    grants_ok jsonb[] := '{}';
  BEGIN
    FOR item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
      IF NOT (item->'checked' = ANY(checked_ok)) AND NOT tessera_unchanged(item->'checked') THEN
        outcomes := outcomes || 'credential-changed'::text;
      ELSIF NOT (jsonb_path_query_array(item->'tokens', '$[*].grant_id') = ANY(grants_ok)) AND NOT tessera_grants_live(item->'tokens') THEN
        outcomes := outcomes || 'grant-revoked'::text;
      ELSE
        checked_ok := checked_ok || (item->'checked');
        grants_ok := grants_ok || jsonb_path_query_array(item->'tokens', '$[*].grant_id');
        INSERT INTO tokens SELECT * FROM jsonb_populate_recordset(NULL::tokens, item->'tokens');
        audit := audit || (item->'audit');
        outcomes := outcomes || 'issued'::text;
      END IF;
    END LOOP;
    -- One append for the batch: one chain head moved, not one per issuance.
    PERFORM tessera_append_audit(audit);
    RETURN to_jsonb(outcomes);
  END $$;

  CREATE FUNCTION tessera_rotate_refresh(p_old text, p_at bigint, p_grace bigint, p_tokens jsonb, p_audit jsonb, p_checked jsonb) RETURNS text LANGUAGE plpgsql AS $$
  BEGIN
    IF NOT tessera_unchanged(p_checked) THEN RETURN 'credential-changed'; END IF;
    -- Checked first: a revocation of the grant also revoked the old token, which would otherwise look like reuse.
    IF NOT tessera_grants_live(p_tokens) THEN RETURN 'grant-revoked'; END IF;
    -- A concurrent rotation waits on the row, then re-checks it (consumed): exactly one claims it.
    UPDATE tokens SET consumed_at = coalesce(consumed_at, p_at)
      WHERE id = p_old AND kind = 'refresh' AND revoked_at IS NULL AND (consumed_at IS NULL OR consumed_at >= p_grace);
    IF NOT FOUND THEN RETURN 'already-used'; END IF;
    INSERT INTO tokens SELECT * FROM jsonb_populate_recordset(NULL::tokens, p_tokens);
    PERFORM tessera_append_audit(p_audit);
    RETURN 'claimed';
  END $$;

  CREATE FUNCTION tessera_redeem_code(p_code text, p_at bigint, p_tokens jsonb, p_audit jsonb, p_checked jsonb) RETURNS text LANGUAGE plpgsql AS $$
  BEGIN
    IF NOT tessera_unchanged(p_checked) THEN RETURN 'credential-changed'; END IF;
    IF NOT tessera_grants_live(p_tokens) THEN RETURN 'grant-revoked'; END IF;
    -- A concurrent redeemer waits on the row, then finds it redeemed: exactly one claims it.
    UPDATE codes SET redeemed_at = p_at WHERE id = p_code AND redeemed_at IS NULL;
    IF NOT FOUND THEN RETURN 'already-used'; END IF;
    INSERT INTO tokens SELECT * FROM jsonb_populate_recordset(NULL::tokens, p_tokens);
    PERFORM tessera_append_audit(p_audit);
    RETURN 'claimed';
  END $$;

  -- Other instances cache clients (postgres-store.ts): every change or deletion wakes them.
  CREATE FUNCTION tessera_clients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('tessera_clients', OLD.id);
    RETURN NULL;
  END $$;
  CREATE TRIGGER clients_changed AFTER UPDATE OR DELETE ON clients FOR EACH ROW EXECUTE FUNCTION tessera_clients_changed();
  `,
  // Pushed authorization requests (RFC 9126), found by the hash of their request_uri.
  `
  CREATE TABLE pushed_requests (
    hash text PRIMARY KEY,
    client_id text NOT NULL,
    params text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);
  `,
  // Device authorization (RFC 8628, issue 11). Found by the id its device_code carries, or by the
  // hash of its user code (unique: a second one is a 'conflict', and the engine draws another).
  // Redemption is one function, as tessera_redeem_code: the row lock of its UPDATE makes a
  // concurrent redeemer wait, then find the code redeemed; the grant's shared lock makes a
  // revocation wait for it, then revoke its tokens too.
  `
  CREATE TABLE device_codes (
    id text PRIMARY KEY,
    hash text NOT NULL,
    user_code_hash text NOT NULL,
    client_id text NOT NULL,
    scope text NOT NULL,
    issued_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    interval integer NOT NULL,
    last_polled_at bigint,
    status text NOT NULL,
    user_id text,
    grant_id text,
    decided_at bigint
  );
  CREATE UNIQUE INDEX device_codes_user_code ON device_codes (user_code_hash);
  CREATE INDEX device_codes_expires ON device_codes (expires_at);

  CREATE FUNCTION tessera_redeem_device_code(p_id text, p_at bigint, p_tokens jsonb, p_audit jsonb, p_checked jsonb) RETURNS text LANGUAGE plpgsql AS $$
  BEGIN
    IF NOT tessera_unchanged(p_checked) THEN RETURN 'credential-changed'; END IF;
    IF NOT tessera_grants_live(p_tokens) THEN RETURN 'grant-revoked'; END IF;
    UPDATE device_codes SET status = 'redeemed' WHERE id = p_id AND status = 'approved';
    IF NOT FOUND THEN RETURN 'already-used'; END IF;
    INSERT INTO tokens SELECT * FROM jsonb_populate_recordset(NULL::tokens, p_tokens);
    PERFORM tessera_append_audit(p_audit);
    RETURN 'claimed';
  END $$;
  `,
  // Issue 11, client management and JWT client authentication: a rotated secret's predecessor
  // and its grace period (rotate-secret --grace), accepted by tessera_unchanged until it ends; a
  // private_key_jwt client's JWK Set (inline or by URI); a client_secret_jwt client's secret, sealed
  // under a key kept outside the database; the jti of every client assertion
  // (RFC 7523 §3) until it expires, so a replay is refused on every instance. clients_changed
  // (NOTIFY) fires on these columns' updates as on any other.
  `
  ALTER TABLE clients ADD COLUMN previous_secret_hash text;
  ALTER TABLE clients ADD COLUMN previous_secret_expires_at bigint;
  ALTER TABLE clients ADD COLUMN jwks text;
  ALTER TABLE clients ADD COLUMN jwks_uri text;
  ALTER TABLE clients ADD COLUMN sealed_secret text;
  CREATE TABLE client_assertions (
    client_id text NOT NULL,
    jti text NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (client_id, jti)
  );
  CREATE INDEX client_assertions_expires ON client_assertions (expires_at);

  -- As before, except that a client's previous secret holds within its grace period.
  CREATE OR REPLACE FUNCTION tessera_unchanged(c jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
  BEGIN
    IF c IS NULL THEN RETURN true; END IF;
    IF c ? 'client' THEN
      PERFORM tessera_share('client', c->'client'->>'id');
      PERFORM 1 FROM clients WHERE id = c->'client'->>'id' AND (secret_hash IS NOT DISTINCT FROM c->'client'->>'secretHash'
        OR (previous_secret_hash = c->'client'->>'secretHash' AND previous_secret_expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint));
      IF NOT FOUND THEN RETURN false; END IF;
    END IF;
    IF c ? 'user' THEN
      PERFORM tessera_share('user', c->'user'->>'id');
      PERFORM 1 FROM users WHERE id = c->'user'->>'id' AND password_hash = c->'user'->>'passwordHash';
      IF NOT FOUND THEN RETURN false; END IF;
    END IF;
    IF c ? 'session' THEN
      PERFORM tessera_share('user', c->'session'->>'userId');
      PERFORM 1 FROM sessions WHERE hash = c->'session'->>'hash' AND user_id = c->'session'->>'userId' FOR SHARE;
      IF NOT FOUND THEN RETURN false; END IF;
    END IF;
    RETURN true;
  END $$;
  `,
  // OpenID Connect (issue 11): a user's optional profile claims (Core §5.1), and what a code
  // carries into its id_token: the request's nonce (§3.1.2.1) and the sign-in time (auth_time).
  // Codes issued before this have no sign-in time recorded: their issue time stands in.
  `
  ALTER TABLE users ADD COLUMN name text, ADD COLUMN email text, ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
  ALTER TABLE codes ADD COLUMN nonce text, ADD COLUMN auth_time bigint;
  UPDATE codes SET auth_time = issued_at;
  `,
  // OpenID Connect RP-Initiated Logout 1.0 (issue 11): where a client may send the browser after sign-out.
  `
  ALTER TABLE clients ADD COLUMN post_logout_redirect_uris jsonb NOT NULL DEFAULT '[]';
  `,
  // Issue 11, dynamic client registration (RFC 7591, RFC 7592): the hash of a registered client's
  // registration access token; initial access tokens (one-time, hashed) that gate /register.
  `
  ALTER TABLE clients ADD COLUMN registration_token_hash text;
  CREATE TABLE initial_access_tokens (
    hash text PRIMARY KEY,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX initial_access_tokens_expires ON initial_access_tokens (expires_at);
  `,
  // OpenID Connect Core §12.2: a refresh token keeps the time of the sign-in it descends from (its
  // code's auth_time), so the id_token of a refresh carries the original auth_time. Tokens stored
  // before this have none: their refreshed id_tokens omit auth_time, as before. The functions that
  // insert tokens (jsonb_populate_recordset over tokens) take the new key as they are.
  `
  ALTER TABLE tokens ADD COLUMN auth_time bigint;
  `,
  // OpenID Connect Dynamic Client Registration 1.0 §2 id_token_signed_response_alg: RS256 unless
  // registered otherwise. Clients from before it have had ES256 ID Tokens (the only algorithm then)
  // and keep them, so no relying party that pinned ES256 breaks on upgrade.
  `
  -- The rows there now take the first default (no rewrite, no clients_changed per row); new ones the second.
  ALTER TABLE clients ADD COLUMN id_token_signed_response_alg text NOT NULL DEFAULT 'ES256';
  ALTER TABLE clients ALTER COLUMN id_token_signed_response_alg SET DEFAULT 'RS256';
  `,
  // DPoP (RFC 9449, issue 12): a client that must send proofs (§5.2 dpop_bound_access_tokens);
  // the key a token (§6) or a code (§10, dpop_jkt) is bound to, null for bearer ones (tokens are
  // written through jsonb_populate_recordset(NULL::tokens, …), which picks the new column up);
  // every proof's jti until it could no longer be accepted (§11.1), so a replay is refused on
  // every instance; and secrets every instance shares (the DPoP nonce key, §8).
  `
  ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens boolean NOT NULL DEFAULT false;
  ALTER TABLE tokens ADD COLUMN dpop_jkt text;
  ALTER TABLE codes ADD COLUMN dpop_jkt text;
  CREATE TABLE dpop_proofs (
    jkt text NOT NULL,
    jti text NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (jkt, jti)
  );
  CREATE INDEX dpop_proofs_expires ON dpop_proofs (expires_at);
  CREATE TABLE server_secrets (
    name text PRIMARY KEY,
    value text NOT NULL,
    created_at bigint NOT NULL
  );
  `,
  // Resource indicators (RFC 8707) and token exchange (RFC 8693), issue 12: the resources a client
  // may ask tokens for, those a user authorized on a grant and an authorization request named on
  // its code or device code (empty for rows from before); an access token's audience (null: the server's default,
  // as every token had before), an exchanged token's act claim (JSON text) and the subject token it
  // was exchanged from. An exchanged token may be issued to another client than its grant's:
  // revoking that client finds it by the partial index, which no other token enters. The functions
  // that insert tokens and grants (jsonb_populate_record[set]) take the new keys as they are.
  `
  ALTER TABLE clients ADD COLUMN resources jsonb NOT NULL DEFAULT '[]';
  ALTER TABLE grants ADD COLUMN resources jsonb NOT NULL DEFAULT '[]';
  ALTER TABLE codes ADD COLUMN resources jsonb NOT NULL DEFAULT '[]';
  ALTER TABLE device_codes ADD COLUMN resources jsonb NOT NULL DEFAULT '[]';
  ALTER TABLE tokens ADD COLUMN audience text, ADD COLUMN act text, ADD COLUMN exchanged_from text;
  CREATE INDEX tokens_exchanged_client ON tokens (client_id) WHERE exchanged_from IS NOT NULL;
  `,
  // Token exchange (RFC 8693): the audiences of the subject tokens a client may exchange, apart
  // from the resources it may ask tokens for. Until now a client registered for token exchange
  // could exchange the tokens sent to any of its resources: those clients keep that, every other
  // client starts with none.
  `
  ALTER TABLE clients ADD COLUMN exchange_audiences jsonb NOT NULL DEFAULT '[]';
  UPDATE clients SET exchange_audiences = resources
    WHERE grant_types @> '["urn:ietf:params:oauth:grant-type:token-exchange"]'::jsonb;
  `,
  // Lifecycle webhooks (issue 13): subscriptions (their secret sealed, their events expanded) and
  // the outbox. tessera_append_audit, through which every write appends its audit records, now
  // also adds a delivery for each record a subscription names, in the same transaction; with no
  // subscription that costs one look at an empty table. Pending deliveries are claimed by
  // next_attempt_at with FOR UPDATE SKIP LOCKED (writes.ts): one instance at a time.
  `
  CREATE TABLE webhooks (
    id text PRIMARY KEY,
    url text NOT NULL,
    events jsonb NOT NULL,
    sealed_secret text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE webhook_deliveries (
    id text PRIMARY KEY,
    webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event text NOT NULL,
    at bigint NOT NULL,
    actor text NOT NULL,
    client_id text,
    user_id text,
    grant_id text,
    token_id text,
    family_id text,
    reason text,
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    last_status integer,
    last_error text,
    finished_at bigint
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
  CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, at);
  CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
  CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;

  CREATE OR REPLACE FUNCTION tessera_append_audit(p_audit jsonb) RETURNS void LANGUAGE plpgsql AS $$
  DECLARE
    h record;
    c integer;
    r jsonb;
    s bigint;
    prev text;
    n integer := jsonb_array_length(p_audit);
  BEGIN
    IF n = 0 THEN RETURN; END IF;
    SELECT chain, hash INTO h FROM audit_chains WHERE chain = pg_backend_pid() % 32 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
      SELECT chain, hash INTO h FROM audit_chains ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
      c := floor(random() * 32)::integer;
      SELECT chain, hash INTO h FROM audit_chains WHERE chain = c FOR UPDATE;
    END IF;
    prev := h.hash;
    FOR r IN SELECT value FROM jsonb_array_elements(p_audit) LOOP
      s := nextval('audit_seq');
      INSERT INTO audit (seq, chain, at, event, actor, client_id, user_id, grant_id, token_id, reason, endpoint, data, prev_hash, hash)
      VALUES (s, h.chain, (r->>'at')::bigint, r->>'event', r->>'actor', r->>'client_id', r->>'user_id', r->>'grant_id', r->>'token_id', r->>'reason',
        r->>'endpoint', r->>'data', prev, tessera_b64url(sha256(convert_to('[' || s || ',' || (r->>'body') || ',"' || prev || '"]', 'UTF8'))))
      RETURNING hash INTO prev;
    END LOOP;
    UPDATE audit_chains SET records = records + n, seq = s, hash = prev WHERE chain = h.chain;
    -- The outbox: ids and the reason only (webhooks/events.ts), the family from the record's data.
    IF EXISTS (SELECT 1 FROM webhooks) THEN
      INSERT INTO webhook_deliveries (id, webhook_id, event, at, actor, client_id, user_id, grant_id, token_id, family_id, reason, next_attempt_at)
      SELECT replace(gen_random_uuid()::text, '-', ''), w.id, a->>'event', (a->>'at')::bigint, a->>'actor', a->>'client_id', a->>'user_id', a->>'grant_id',
        a->>'token_id', (a->>'data')::jsonb->>'family', a->>'reason', (a->>'at')::bigint
      FROM jsonb_array_elements(p_audit) AS a JOIN webhooks AS w ON w.events ? (a->>'event');
    END IF;
  END $$;
  `,
  // The admin API (issue 13): operators' admin tokens, stored hashed, found by the id their value
  // carries; a name is never reused, so the audit log's actor `admin:NAME` names one token. Paging
  // follows the primary keys (tokens and grants by id, audit records by seq), so issuance and the
  // audit log, written on every event, pay for no new index.
  `
  CREATE TABLE admin_tokens (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    hash text NOT NULL,
    read_only boolean NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint,
    revoked_at bigint
  );
  `,
  // A refresh rotation is one audit record since issue 14, naming the pair it issued in its data:
  // its webhook deliveries carry the pair's ids, as the pair's own token.issued deliveries did.
  `
  ALTER TABLE webhook_deliveries ADD COLUMN access_token_id text, ADD COLUMN refresh_token_id text;

  CREATE OR REPLACE FUNCTION tessera_append_audit(p_audit jsonb) RETURNS void LANGUAGE plpgsql AS $$
  DECLARE
    h record;
    c integer;
    r jsonb;
    s bigint;
    prev text;
    n integer := jsonb_array_length(p_audit);
  BEGIN
    IF n = 0 THEN RETURN; END IF;
    SELECT chain, hash INTO h FROM audit_chains WHERE chain = pg_backend_pid() % 32 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
      SELECT chain, hash INTO h FROM audit_chains ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
      c := floor(random() * 32)::integer;
      SELECT chain, hash INTO h FROM audit_chains WHERE chain = c FOR UPDATE;
    END IF;
    prev := h.hash;
    FOR r IN SELECT value FROM jsonb_array_elements(p_audit) LOOP
      s := nextval('audit_seq');
      INSERT INTO audit (seq, chain, at, event, actor, client_id, user_id, grant_id, token_id, reason, endpoint, data, prev_hash, hash)
      VALUES (s, h.chain, (r->>'at')::bigint, r->>'event', r->>'actor', r->>'client_id', r->>'user_id', r->>'grant_id', r->>'token_id', r->>'reason',
        r->>'endpoint', r->>'data', prev, tessera_b64url(sha256(convert_to('[' || s || ',' || (r->>'body') || ',"' || prev || '"]', 'UTF8'))))
      RETURNING hash INTO prev;
    END LOOP;
    UPDATE audit_chains SET records = records + n, seq = s, hash = prev WHERE chain = h.chain;
    -- The outbox: ids and the reason only (webhooks/events.ts), the family and a rotation's new pair from the record's data.
    IF EXISTS (SELECT 1 FROM webhooks) THEN
      INSERT INTO webhook_deliveries (id, webhook_id, event, at, actor, client_id, user_id, grant_id, token_id, family_id, access_token_id, refresh_token_id, reason, next_attempt_at)
      SELECT replace(gen_random_uuid()::text, '-', ''), w.id, a->>'event', (a->>'at')::bigint, a->>'actor', a->>'client_id', a->>'user_id', a->>'grant_id',
        a->>'token_id', (a->>'data')::jsonb->>'family', (a->>'data')::jsonb->'access'->>'id', (a->>'data')::jsonb->'refresh'->>'id', a->>'reason', (a->>'at')::bigint
      FROM jsonb_array_elements(p_audit) AS a JOIN webhooks AS w ON w.events ? (a->>'event');
    END IF;
  END $$;
  `,
  // The revocations on the request path, of one token or of a refresh token's family (RFC 7009,
  // RFC 9700 §4.14.2 reuse detection), in one statement: the feed lock (writes.ts FEED_LOCK) is
  // then held from the feed append to the commit inside the database, not across a round trip to
  // a busy server and back for the COMMIT, which bounded every instance's revocations together at
  // one per round trip. Same steps, same order as writes.ts revoke: the family's grant held
  // exclusively first (each later statement a new snapshot, so it sees the tokens of every write
  // that held the grant), the tokens, the family's unredeemed code; then, when an access token was
  // among them, the feed lock and the feed event; the audit records; the NOTIFY.
  `
  CREATE FUNCTION tessera_revoke_one(p_kind text, p_value text, p_grant text, p_at bigint, p_audit jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
  DECLARE
    n integer;
    v_until bigint;
    v_access_until bigint;
  BEGIN
    IF p_kind = 'family' THEN
      PERFORM tessera_hold_grants(ARRAY[p_grant]);
      WITH t AS (UPDATE tokens SET revoked_at = p_at WHERE grant_id = p_grant AND family_id = p_value AND revoked_at IS NULL RETURNING kind, expires_at)
        SELECT count(*)::int, max(expires_at), max(expires_at) FILTER (WHERE kind = 'access') INTO n, v_until, v_access_until FROM t;
      DELETE FROM codes WHERE id = p_value AND redeemed_at IS NULL;
    ELSE
      WITH t AS (UPDATE tokens SET revoked_at = p_at WHERE id = p_value AND revoked_at IS NULL RETURNING kind, expires_at)
        SELECT count(*)::int, max(expires_at), max(expires_at) FILTER (WHERE kind = 'access') INTO n, v_until, v_access_until FROM t;
    END IF;
    IF v_access_until IS NOT NULL THEN
      PERFORM pg_advisory_xact_lock(7346202);
      INSERT INTO revocation_feed (seq, at, kind, value, until) VALUES (nextval('revocation_feed_seq'), p_at, p_kind, p_value, v_access_until);
      PERFORM tessera_append_audit(p_audit);
      PERFORM pg_notify('tessera_feed', '');
    ELSE
      PERFORM tessera_append_audit(p_audit);
    END IF;
    RETURN jsonb_build_object('tokens', n, 'until', v_until);
  END $$;
  `,
  // Refresh rotations from one turn of a server's event loop in one transaction and one commit
  // (write-batch.ts), as tessera_issue_batch does for issuances: each item as tessera_rotate_refresh
  // would do it alone, with an outcome of its own, and an item whose check fails writes nothing.
  // The caller orders the items by the token they consume, so two batches lock those rows in one
  // order; a deadlock with another writer still aborts the batch, which the store runs again.
  `
  CREATE FUNCTION tessera_rotate_batch(p_items jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
  DECLARE
    item jsonb;
    outcomes text[] := '{}';
    audit jsonb := '[]';
  BEGIN
    FOR item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
      IF NOT tessera_unchanged(item->'checked') THEN
        outcomes := outcomes || 'credential-changed'::text;
      ELSIF NOT tessera_grants_live(item->'tokens') THEN
        outcomes := outcomes || 'grant-revoked'::text;
      ELSE
        UPDATE tokens SET consumed_at = coalesce(consumed_at, (item->>'at')::bigint)
          WHERE id = item->>'old' AND kind = 'refresh' AND revoked_at IS NULL AND (consumed_at IS NULL OR consumed_at >= (item->>'grace')::bigint);
        IF NOT FOUND THEN
          outcomes := outcomes || 'already-used'::text;
        ELSE
          INSERT INTO tokens SELECT * FROM jsonb_populate_recordset(NULL::tokens, item->'tokens');
          audit := audit || (item->'audit');
          outcomes := outcomes || 'claimed'::text;
        END IF;
      END IF;
    END LOOP;
    PERFORM tessera_append_audit(audit);
    RETURN to_jsonb(outcomes);
  END $$;
  `,
  // A family's revocation deletes its code, redeemed or not (Store.revoke): the first replay of a
  // redeemed code (RFC 6749 §4.1.2) revokes what it produced, and later replays find no code and
  // write no audit record, as a refresh token reused after its family's revocation does not.
  `
  CREATE OR REPLACE FUNCTION tessera_revoke_one(p_kind text, p_value text, p_grant text, p_at bigint, p_audit jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
  DECLARE
    n integer;
    v_until bigint;
    v_access_until bigint;
  BEGIN
    IF p_kind = 'family' THEN
      PERFORM tessera_hold_grants(ARRAY[p_grant]);
      WITH t AS (UPDATE tokens SET revoked_at = p_at WHERE grant_id = p_grant AND family_id = p_value AND revoked_at IS NULL RETURNING kind, expires_at)
        SELECT count(*)::int, max(expires_at), max(expires_at) FILTER (WHERE kind = 'access') INTO n, v_until, v_access_until FROM t;
      DELETE FROM codes WHERE id = p_value;
    ELSE
      WITH t AS (UPDATE tokens SET revoked_at = p_at WHERE id = p_value AND revoked_at IS NULL RETURNING kind, expires_at)
        SELECT count(*)::int, max(expires_at), max(expires_at) FILTER (WHERE kind = 'access') INTO n, v_until, v_access_until FROM t;
    END IF;
    IF v_access_until IS NOT NULL THEN
      PERFORM pg_advisory_xact_lock(7346202);
      INSERT INTO revocation_feed (seq, at, kind, value, until) VALUES (nextval('revocation_feed_seq'), p_at, p_kind, p_value, v_access_until);
      PERFORM tessera_append_audit(p_audit);
      PERFORM pg_notify('tessera_feed', '');
    ELSE
      PERFORM tessera_append_audit(p_audit);
    END IF;
    RETURN jsonb_build_object('tokens', n, 'until', v_until);
  END $$;
  `,
];

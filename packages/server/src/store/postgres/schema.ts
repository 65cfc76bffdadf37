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

  -- Other instances cache clients (postgres-store.ts): every change or deletion wakes them.
  CREATE FUNCTION tessera_clients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('tessera_clients', OLD.id);
    RETURN NULL;
  END $$;
  CREATE TRIGGER clients_changed AFTER UPDATE OR DELETE ON clients FOR EACH ROW EXECUTE FUNCTION tessera_clients_changed();
  `,
];

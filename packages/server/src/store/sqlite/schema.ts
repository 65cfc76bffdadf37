/** SQLite schema, applied in order; `user_version` records how far a file has come. */
export const migrations: readonly string[] = [
  `
  CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    auth_method TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    scope TEXT NOT NULL,
    token_format TEXT NOT NULL,
    access_ttl INTEGER,
    refresh_ttl INTEGER,
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;
  CREATE INDEX grants_client_user ON grants (client_id, user_id) WHERE revoked_at IS NULL;
  CREATE INDEX grants_user ON grants (user_id);

  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    family_id TEXT NOT NULL,
    parent_id TEXT,
    client_id TEXT NOT NULL,
    user_id TEXT,
    scope TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    consumed_at INTEGER
  ) STRICT;
  CREATE INDEX tokens_grant ON tokens (grant_id);
  CREATE INDEX tokens_family ON tokens (family_id);
  CREATE INDEX tokens_client ON tokens (client_id);
  CREATE INDEX tokens_user ON tokens (user_id);
  CREATE INDEX tokens_issued ON tokens (issued_at);
  CREATE INDEX tokens_expires ON tokens (expires_at);

  CREATE TABLE codes (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    redeemed_at INTEGER
  ) STRICT;
  CREATE INDEX codes_expires ON codes (expires_at);

  CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retire_at INTEGER
  ) STRICT;

  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    client_id TEXT,
    user_id TEXT,
    grant_id TEXT,
    token_id TEXT,
    reason TEXT,
    endpoint TEXT,
    data TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  CREATE INDEX audit_at ON audit (at);

  CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'genesis');
  `,
  // The revocation feed (issue 4). AUTOINCREMENT: a sequence number is never reused, even after
  // the sweeper deleted the newest row, so a guard's cursor never skips a later event.
  `
  CREATE TABLE revocation_feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    until INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX revocation_feed_until ON revocation_feed (until);
  `,
  // Fewer B-trees per issued token (issue 5): revocation by user or client reaches tokens through
  // their grants (grants_user, grants_client_user, then tokens_grant), and "issued before T" is a
  // rare emergency operation that may scan.
  `
  DROP INDEX tokens_client;
  DROP INDEX tokens_user;
  DROP INDEX tokens_issued;
  `,
  // Tokens and codes are found by the id their value carries (secrets.secretFor), then their hash
  // is compared: the UNIQUE index over hashes goes (a random page per token in every commit).
  // SQLite cannot drop a column constraint, so both tables are rebuilt. Opaque tokens and codes
  // issued before this carry no id and are no longer recognised (JWTs are, by jti).
  `
  CREATE TABLE tokens_next (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    family_id TEXT NOT NULL,
    parent_id TEXT,
    client_id TEXT NOT NULL,
    user_id TEXT,
    scope TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    consumed_at INTEGER
  ) STRICT;
  INSERT INTO tokens_next SELECT id, hash, kind, format, grant_id, family_id, parent_id, client_id, user_id, scope, issued_at, expires_at, revoked_at, consumed_at FROM tokens;
  DROP TABLE tokens;
  ALTER TABLE tokens_next RENAME TO tokens;
  CREATE INDEX tokens_grant ON tokens (grant_id);
  CREATE INDEX tokens_family ON tokens (family_id);
  CREATE INDEX tokens_expires ON tokens (expires_at);

  CREATE TABLE codes_next (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    redeemed_at INTEGER
  ) STRICT;
  INSERT INTO codes_next SELECT id, hash, grant_id, client_id, user_id, scope, redirect_uri, code_challenge, code_challenge_method, issued_at, expires_at, redeemed_at FROM codes;
  DROP TABLE codes;
  ALTER TABLE codes_next RENAME TO codes;
  CREATE INDEX codes_expires ON codes (expires_at);
  `,
  // findGrant (a client's or user's standing grant, on every client_credentials and password token)
  // wants the newest live grant of a (client, user) pair: with created_at in the index SQLite
  // reads it from the index's end instead of sorting the pair's grants in a temporary B-tree.
  // Same partial index, one column longer, so a grant write touches no more B-trees than before;
  // revocation by client still seeks on its (client_id) prefix.
  `
  DROP INDEX grants_client_user;
  CREATE INDEX grants_client_user ON grants (client_id, user_id, created_at) WHERE revoked_at IS NULL;
  `,
  // The store caches clients (sqlite-store.ts); a process that changes or deletes one moves this
  // counter in the same transaction, which tells every other process's cache to drop what it holds.
  `
  CREATE TABLE clients_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  ) STRICT;
  INSERT INTO clients_version (id, version) VALUES (1, 0);
  CREATE TRIGGER clients_updated AFTER UPDATE ON clients BEGIN UPDATE clients_version SET version = version + 1 WHERE id = 1; END;
  CREATE TRIGGER clients_deleted AFTER DELETE ON clients BEGIN UPDATE clients_version SET version = version + 1 WHERE id = 1; END;
  `,
  // One index for grants and families. Every token wrote an entry into tokens_grant and another
  // into tokens_family: for client_credentials tokens one B-tree more per token (three WAL pages
  // in a commit of 14), for refresh rotations two leaf pages per live chain in every commit (~75
  // WAL frames for 16 rotations of 16 chains). A family lies within one grant, and a family
  // revocation names both, so (grant_id, family_id) serves revocation by grant (its prefix) and
  // by family.
  `
  DROP INDEX tokens_grant;
  DROP INDEX tokens_family;
  CREATE INDEX tokens_grant_family ON tokens (grant_id, family_id);
  `,
  // The sweeper deletes grants revoked longer than the retention ago, with their tokens (issue 9).
  // Partial: a grant enters this index only when it is revoked, so issuance never writes to it.
  `
  CREATE INDEX grants_revoked ON grants (revoked_at) WHERE revoked_at IS NOT NULL;
  `,
  // One live grant per (client, user) pair, a null user included (issue 10): the engine's
  // in-process lock could not stop another process (the CLI, a second server) writing a second
  // one, so the schema does. A file may already hold duplicates: each pair keeps its newest live
  // grant, the older ones' tokens and codes move onto it, and the older rows go. Nothing a client
  // holds stops working (tokens and codes carry their own scope; a family stays within one grant)
  // and revoking the pair's grant now reaches all of them. Revoking the duplicates instead would
  // sign their users out. The kept grant keeps its own scope: at worst a user is asked to consent
  // again to a scope only an older duplicate held. The unique index also serves findGrant (and
  // revocation by client, on its client_id prefix), so it replaces grants_client_user.
  `
  CREATE TEMP TABLE grant_merge AS
    SELECT g.id AS old_id,
      (SELECT n.id FROM grants n WHERE n.client_id = g.client_id AND n.user_id IS g.user_id AND n.revoked_at IS NULL
        ORDER BY n.created_at DESC, n.id DESC LIMIT 1) AS new_id
    FROM grants g WHERE g.revoked_at IS NULL;
  DELETE FROM grant_merge WHERE old_id = new_id;
  UPDATE tokens SET grant_id = (SELECT new_id FROM grant_merge WHERE old_id = tokens.grant_id) WHERE grant_id IN (SELECT old_id FROM grant_merge);
  UPDATE codes SET grant_id = (SELECT new_id FROM grant_merge WHERE old_id = codes.grant_id) WHERE grant_id IN (SELECT old_id FROM grant_merge);
  DELETE FROM grants WHERE id IN (SELECT old_id FROM grant_merge);
  DROP TABLE grant_merge;
  DROP INDEX grants_client_user;
  CREATE UNIQUE INDEX grants_live_pair ON grants (client_id, ifnull(user_id, '')) WHERE revoked_at IS NULL;
  `,
  // Pushed authorization requests (RFC 9126), found by the hash of their request_uri.
  `
  CREATE TABLE pushed_requests (
    hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);
  `,
  // Device authorization (RFC 8628, issue 11). Found by the id its device_code carries, or by the
  // hash of its user code (unique: a second one is a 'conflict', and the engine draws another).
  `
  CREATE TABLE device_codes (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    user_code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    interval INTEGER NOT NULL,
    last_polled_at INTEGER,
    status TEXT NOT NULL,
    user_id TEXT,
    grant_id TEXT,
    decided_at INTEGER
  ) STRICT;
  CREATE INDEX device_codes_expires ON device_codes (expires_at);
  `,
  // Issue 11, client management and JWT client authentication: a rotated secret's predecessor
  // and its grace period (rotate-secret --grace); a private_key_jwt client's JWK Set (inline or by
  // URI); a client_secret_jwt client's secret, sealed under a key kept outside the database; the jti of every client assertion (RFC 7523 §3) until it expires, so a replay is refused
  // by whichever process sees it. Adding columns moves no row: clients_updated still fires.
  `
  ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT;
  ALTER TABLE clients ADD COLUMN previous_secret_expires_at INTEGER;
  ALTER TABLE clients ADD COLUMN jwks TEXT;
  ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
  ALTER TABLE clients ADD COLUMN sealed_secret TEXT;
  CREATE TABLE client_assertions (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
  ) STRICT;
  CREATE INDEX client_assertions_expires ON client_assertions (expires_at);
  `,
  // OpenID Connect (issue 11): a user's optional profile claims (Core §5.1), and what a code
  // carries into its id_token: the request's nonce (§3.1.2.1) and the sign-in time (auth_time).
  // Codes issued before this have no sign-in time recorded: their issue time stands in.
  `
  ALTER TABLE users ADD COLUMN name TEXT;
  ALTER TABLE users ADD COLUMN email TEXT;
  ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE codes ADD COLUMN nonce TEXT;
  ALTER TABLE codes ADD COLUMN auth_time INTEGER;
  UPDATE codes SET auth_time = issued_at;
  `,
  // OpenID Connect RP-Initiated Logout 1.0 (issue 11): where a client may send the browser after sign-out.
  `
  ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
  `,
  // Issue 11, dynamic client registration (RFC 7591, RFC 7592): the hash of a registered client's
  // registration access token; initial access tokens (one-time, hashed) that gate /register.
  `
  ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
  CREATE TABLE initial_access_tokens (
    hash TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX initial_access_tokens_expires ON initial_access_tokens (expires_at);
  `,
  // OpenID Connect Core §12.2: a refresh token keeps the time of the sign-in it descends from (its
  // code's auth_time), so the id_token of a refresh carries the original auth_time. Tokens stored
  // before this have none: their refreshed id_tokens omit auth_time, as before.
  `
  ALTER TABLE tokens ADD COLUMN auth_time INTEGER;
  `,
  // OpenID Connect Dynamic Client Registration 1.0 §2 id_token_signed_response_alg: RS256 unless
  // registered otherwise. Clients from before it have had ES256 ID Tokens (the only algorithm then)
  // and keep them, so no relying party that pinned ES256 breaks on upgrade.
  `
  ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256';
  UPDATE clients SET id_token_signed_response_alg = 'ES256';
  `,
  // DPoP (RFC 9449, issue 12): a client that must send proofs (§5.2 dpop_bound_access_tokens);
  // the key a token (§6) or a code (§10, dpop_jkt) is bound to, null for bearer ones; every
  // proof's jti until it could no longer be accepted (§11.1), so a replay is refused by whichever
  // process sees it; and secrets every process shares (the DPoP nonce key, §8).
  `
  ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tokens ADD COLUMN dpop_jkt TEXT;
  ALTER TABLE codes ADD COLUMN dpop_jkt TEXT;
  CREATE TABLE dpop_proofs (
    jkt TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (jkt, jti)
  ) STRICT;
  CREATE INDEX dpop_proofs_expires ON dpop_proofs (expires_at);
  CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  `,
  // Resource indicators (RFC 8707) and token exchange (RFC 8693), issue 12: the resources a client
  // may ask tokens for, those a user authorized on a grant and an authorization request named on
  // its code or device code (JSON arrays, empty for rows from before); an access token's audience (null: the
  // server's default, as every token had before), an exchanged token's act claim (JSON) and the
  // subject token it was exchanged from. An exchanged token may be issued to another client than
  // its grant's: revoking that client finds it by the partial index, which no other token enters.
  `
  ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE grants ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE device_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE tokens ADD COLUMN audience TEXT;
  ALTER TABLE tokens ADD COLUMN act TEXT;
  ALTER TABLE tokens ADD COLUMN exchanged_from TEXT;
  CREATE INDEX tokens_exchanged_client ON tokens (client_id) WHERE exchanged_from IS NOT NULL;
  `,
  // Token exchange (RFC 8693): the audiences of the subject tokens a client may exchange, apart
  // from the resources it may ask tokens for (a JSON array). Until now a client registered for
  // token exchange could exchange the tokens sent to any of its resources: those clients keep
  // that, every other client starts with none.
  `
  ALTER TABLE clients ADD COLUMN exchange_audiences TEXT NOT NULL DEFAULT '[]';
  UPDATE clients SET exchange_audiences = resources
    WHERE EXISTS (SELECT 1 FROM json_each(clients.grant_types) WHERE value = 'urn:ietf:params:oauth:grant-type:token-exchange');
  `,
  // Lifecycle webhooks (issue 13): subscriptions (their secret sealed, their events expanded, a
  // JSON array) and the outbox, whose rows the writes add in the transaction of the audit records
  // they report (writes.ts). The writer caches the subscriptions and reads webhooks_version once
  // per transaction, which the triggers move on every change, whichever process made it. Pending
  // deliveries are claimed by next_attempt_at (a claim moves it past the attempt: a lease).
  `
  CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE webhooks_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  ) STRICT;
  INSERT INTO webhooks_version (id, version) VALUES (1, 0);
  CREATE TRIGGER webhooks_inserted AFTER INSERT ON webhooks BEGIN UPDATE webhooks_version SET version = version + 1 WHERE id = 1; END;
  CREATE TRIGGER webhooks_deleted AFTER DELETE ON webhooks BEGIN UPDATE webhooks_version SET version = version + 1 WHERE id = 1; END;
  CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    client_id TEXT,
    user_id TEXT,
    grant_id TEXT,
    token_id TEXT,
    family_id TEXT,
    reason TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    finished_at INTEGER
  ) STRICT;
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
  CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, at);
  CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
  CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;
  `,
  // The admin API (issue 13): operators' admin tokens, stored hashed, found by the id their value
  // carries; a name is never reused, so the audit log's actor `admin:NAME` names one token. Paging
  // follows the primary keys (tokens and grants by id, audit records by seq), so issuance and the
  // audit log, written on every event, pay for no new index.
  `
  CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    read_only INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
  ) STRICT;
  `,
  // A refresh rotation is one audit record since issue 14, naming the pair it issued in its data:
  // its webhook deliveries carry the pair's ids, as the pair's own token.issued deliveries did.
  `
  ALTER TABLE webhook_deliveries ADD COLUMN access_token_id TEXT;
  ALTER TABLE webhook_deliveries ADD COLUMN refresh_token_id TEXT;
  `,
];

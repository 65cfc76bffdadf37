/**
 * Every write of the SQLite store, as synchronous methods on one connection. Each runs inside a
 * group transaction (group-commit.ts), on the main thread or on the writer thread (writer.ts);
 * either way its arguments and result are plain data, so they cross a thread as is. A write is
 * rolled back only if it throws, so each checks everything it may refuse before its first change.
 */
import type Database from 'better-sqlite3';
import { chainRecord } from '../../audit/chain.js';
import { randomId } from '../../secrets.js';
import { familyOf, rotatedPairOf } from '../../webhooks/events.js';
import { definedOnly, type Row, toClient, toDelivery } from '../rows.js';
import type { TransactionState } from './group-commit.js';
import type {
  AdminTokenRecord, AuditInput, CheckedCredentials, ClaimedDelivery, ClaimResult, ClientChanges, ClientRecord, CodeRecord, DeliveryAttempt, DeviceCodeRecord, DeviceDecision,
  GrantRecord, InitialAccessTokenRecord, KeyRecord, PushedRequestRecord, RevocationKind, RevocationResult, RevocationTarget, SessionRecord, TokenRecord, UserProfile, UserRecord,
  WebhookRecord,
} from '../types.js';

/**
 * Which rows a revocation target covers: the tokens (condition and its arguments), the grants and
 * the unredeemed codes (conditions on `value`, which the feed event also carries).
 */
const USER_GRANTS = 'grant_id IN (SELECT id FROM grants WHERE user_id = ? AND revoked_at IS NULL)';
/** A client's tokens: those of its grants, and those exchanged for it on other grants (RFC 8693; tokens_exchanged_client). */
const CLIENT_TOKENS = '(grant_id IN (SELECT id FROM grants WHERE client_id = ? AND revoked_at IS NULL) OR (exchanged_from IS NOT NULL AND client_id = ?))';

export function targetSql(target: RevocationTarget): {
  kind: RevocationKind; tokens: string; tokenArgs: (string | number)[]; grants: string | null; codes: string; value: string | number;
} {
  if ('token' in target) return { kind: 'token', tokens: 'id = ?', tokenArgs: [target.token], grants: null, codes: '0 AND ?', value: target.token };
  // Through the index on (grant_id, family_id) (schema.ts): a family is found within its grant.
  // Its code too, redeemed or not: a later replay finds nothing (Store.revoke).
  if ('family' in target) return { kind: 'family', tokens: 'grant_id = ? AND family_id = ?', tokenArgs: [target.grant, target.family], grants: null, codes: 'id = ?', value: target.family };
  if ('grant' in target) return { kind: 'grant', tokens: 'grant_id = ?', tokenArgs: [target.grant], grants: 'id = ?', codes: 'grant_id = ? AND redeemed_at IS NULL', value: target.grant };
  // A user's or client's tokens are reached through their grants (indexed); every token has the
  // user and client of its grant, but for exchanged ones, issued to the client that exchanged
  // (CLIENT_TOKENS), and a revoked grant has no unrevoked token.
  if ('user' in target) return { kind: 'user', tokens: USER_GRANTS, tokenArgs: [target.user], grants: 'user_id = ?', codes: 'user_id = ? AND redeemed_at IS NULL', value: target.user };
  if ('client' in target) {
    return { kind: 'client', tokens: CLIENT_TOKENS, tokenArgs: [target.client, target.client], grants: 'client_id = ?', codes: 'client_id = ? AND redeemed_at IS NULL', value: target.client };
  }
  return { kind: 'issuedBefore', tokens: 'issued_at < ?', tokenArgs: [target.issuedBefore], grants: null, codes: 'issued_at < ? AND redeemed_at IS NULL', value: target.issuedBefore };
}

/**
 * A client target's grants whose live access tokens were exchanged for other clients (RFC 8693):
 * a guard matches a client's feed event by `client_id`, which names the client that exchanged, so
 * each such grant gets an event of its own (its tokens carry `tessera_grant`).
 */
const EXCHANGED_OUT = `SELECT grant_id AS grantId, max(expires_at) AS until FROM tokens
  WHERE grant_id IN (SELECT id FROM grants WHERE client_id = ? AND revoked_at IS NULL) AND client_id <> ? AND kind = 'access' AND revoked_at IS NULL
  GROUP BY grant_id`;

interface RevokeStatements {
  count: Database.Statement;
  /** EXCHANGED_OUT, for a client target. */
  exchangedOut: Database.Statement | null;
  /** For a user or client target: the access tokens it covers issued at or after its time (late tokens, Store.revoke). */
  late: Database.Statement | null;
  tokens: Database.Statement;
  grants: Database.Statement | null;
  codes: Database.Statement;
}

export class SqliteWrites {
  private readonly s;
  private readonly revokeStatements = new Map<string, RevokeStatements>();
  /** Client id → the secret hash found current in this transaction (see transaction). */
  private readonly secretsChecked = new Map<string, string | null>();
  /** The grants found live in this transaction (grantsLive); a revocation forgets them. */
  private readonly liveGrants = new Set<string>();
  /** The audit chain's head, read at the transaction's first append and written when it settles. */
  private head: { seq: number; hash: string } | undefined;
  private headMoved = false;
  /** Event → the ids of the webhooks subscribed to it, as of webhooksVersion (see transaction). */
  private webhooks = new Map<string, string[]>();
  private webhooksVersion = -1;

  /**
   * Within one transaction each client's secret is read once, each grant's liveness once (a group
   * commit of a client_credentials storm holds one client and one grant many times), and the audit
   * chain's head once, written once. Changing or deleting a client forgets the secrets, a
   * revocation the live grants. Each transaction reads them again: another process may have
   * changed them since.
   */
  readonly transaction: TransactionState = {
    begin: () => {
      this.forgetReads();
      // One read per transaction, under its write lock: a subscription committed by any process
      // before this transaction began is seen by each of its writes.
      if ((this.s.webhooksVersion.get() as number) !== this.webhooksVersion) this.loadWebhooks();
    },
    settle: () => {
      if (!this.headMoved) return;
      const { seq, hash } = this.head as { seq: number; hash: string };
      this.s.setHead.run(seq, hash);
      this.headMoved = false;
    },
    forget: () => this.forgetReads(),
  };

  constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insertClient: p(`INSERT INTO clients (id, name, secret_hash, previous_secret_hash, previous_secret_expires_at, auth_method, grant_types, redirect_uris,
          post_logout_redirect_uris, scope, resources, exchange_audiences, token_format, id_token_signed_response_alg, access_ttl, refresh_ttl, jwks, jwks_uri, sealed_secret,
          registration_token_hash, dpop_bound_access_tokens, created_at)
        VALUES (@id, @name, @secretHash, @previousSecretHash, @previousSecretExpiresAt, @authMethod, @grantTypes, @redirectUris,
          @postLogoutRedirectUris, @scope, @resources, @exchangeAudiences, @tokenFormat, @idTokenSignedResponseAlg, @accessTtl, @refreshTtl, @jwks, @jwksUri, @sealedSecret,
          @registrationTokenHash, @dpopBoundAccessTokens, @createdAt)`),
      deleteClient: p('DELETE FROM clients WHERE id = ?'),
      // The right-hand sides read the row as it was: the replaced hash becomes the previous one.
      setClientSecret: p(`UPDATE clients SET secret_hash = @secretHash, sealed_secret = @sealed,
          previous_secret_hash = CASE WHEN @until > @now THEN secret_hash END, previous_secret_expires_at = CASE WHEN @until > @now THEN @until END
        WHERE id = @id AND secret_hash IS NOT NULL`),
      getClientRow: p('SELECT * FROM clients WHERE id = ?'),
      updateClient: p(`UPDATE clients SET name = @name, grant_types = @grantTypes, redirect_uris = @redirectUris,
          post_logout_redirect_uris = @postLogoutRedirectUris, scope = @scope, resources = @resources, exchange_audiences = @exchangeAudiences, token_format = @tokenFormat,
          id_token_signed_response_alg = @idTokenSignedResponseAlg, access_ttl = @accessTtl, refresh_ttl = @refreshTtl, jwks = @jwks, jwks_uri = @jwksUri,
          dpop_bound_access_tokens = @dpopBoundAccessTokens WHERE id = @id`),
      // The current secret, or the previous one within its grace period (rotate-secret --grace).
      clientSecretIs: p('SELECT 1 FROM clients WHERE id = @id AND (secret_hash IS @hash OR (previous_secret_hash = @hash AND previous_secret_expires_at > @now))'),
      recordAssertion: p('INSERT INTO client_assertions (client_id, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      recordDpopProof: p('INSERT INTO dpop_proofs (jkt, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      insertServerSecret: p('INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      serverSecret: p('SELECT value FROM server_secrets WHERE name = ?').pluck(),
      insertInitialToken: p('INSERT INTO initial_access_tokens (hash, created_at, expires_at) VALUES (@hash, @createdAt, @expiresAt)'),
      consumeInitialToken: p('DELETE FROM initial_access_tokens WHERE hash = ? AND expires_at > ?'),
      sweepInitialTokens: p('DELETE FROM initial_access_tokens WHERE rowid IN (SELECT rowid FROM initial_access_tokens WHERE expires_at < ? LIMIT ?)'),
      sweepAssertions: p('DELETE FROM client_assertions WHERE rowid IN (SELECT rowid FROM client_assertions WHERE expires_at < ? LIMIT ?)'),
      sweepDpopProofs: p('DELETE FROM dpop_proofs WHERE rowid IN (SELECT rowid FROM dpop_proofs WHERE expires_at < ? LIMIT ?)'),
      passwordIs: p('SELECT 1 FROM users WHERE id = ? AND password_hash = ?'),
      sessionIs: p('SELECT 1 FROM sessions WHERE hash = ? AND user_id = ?'),
      insertUser: p(`INSERT INTO users (id, username, password_hash, name, email, email_verified, created_at)
        VALUES (@id, @username, @passwordHash, @name, @email, @emailVerified, @createdAt)`),
      setUserProfile: p('UPDATE users SET name = @name, email = @email, email_verified = @emailVerified WHERE id = @id'),
      deleteUser: p('DELETE FROM users WHERE id = ?'),
      setPassword: p('UPDATE users SET password_hash = ? WHERE id = ?'),
      upsertGrant: p(`INSERT INTO grants (id, client_id, user_id, scope, resources, created_at, revoked_at)
        VALUES (@id, @clientId, @userId, @scope, @resources, @createdAt, @revokedAt)
        ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, resources = excluded.resources`),
      insertCode: p(`INSERT INTO codes (id, hash, grant_id, client_id, user_id, scope, resources, redirect_uri, code_challenge, code_challenge_method, nonce, auth_time, issued_at,
          expires_at, redeemed_at, dpop_jkt)
        VALUES (@id, @hash, @grantId, @clientId, @userId, @scope, @resources, @redirectUri, @codeChallenge, @codeChallengeMethod, @nonce, @authTime, @issuedAt,
          @expiresAt, @redeemedAt, @dpopJkt)`),
      redeemCode: p('UPDATE codes SET redeemed_at = ? WHERE id = ? AND redeemed_at IS NULL'),
      insertPushed: p('INSERT INTO pushed_requests (hash, client_id, params, created_at, expires_at) VALUES (@hash, @clientId, @params, @createdAt, @expiresAt)'),
      consumePushed: p('DELETE FROM pushed_requests WHERE hash = ? AND expires_at > ?'),
      insertDeviceCode: p(`INSERT INTO device_codes (id, hash, user_code_hash, client_id, scope, resources, issued_at, expires_at, interval, last_polled_at, status, user_id,
          grant_id, decided_at)
        VALUES (@id, @hash, @userCodeHash, @clientId, @scope, @resources, @issuedAt, @expiresAt, @interval, @lastPolledAt, @status, @userId, @grantId, @decidedAt)
        ON CONFLICT (user_code_hash) DO NOTHING`),
      pollDeviceCode: p('UPDATE device_codes SET last_polled_at = @at, interval = @interval WHERE id = @id AND last_polled_at IS @previousPoll'),
      decideDeviceCode: p(`UPDATE device_codes SET status = @status, user_id = @userId, grant_id = @grantId, decided_at = @at
        WHERE id = @id AND status = 'pending' AND expires_at > @at`),
      redeemDeviceCode: p("UPDATE device_codes SET status = 'redeemed' WHERE id = ? AND status = 'approved'"),
      sweepDeviceCodes: p('DELETE FROM device_codes WHERE rowid IN (SELECT rowid FROM device_codes WHERE expires_at < ? LIMIT ?)'),
      grantLive: p('SELECT 1 FROM grants WHERE id = ? AND revoked_at IS NULL'),
      grantRevoked: p('SELECT 1 FROM grants WHERE id = ? AND revoked_at IS NOT NULL'),
      subjectLive: p('SELECT 1 FROM tokens WHERE id = ? AND revoked_at IS NULL'),
      // Through grants_live_pair (schema.ts), the index that also refuses a second live grant.
      otherLiveGrant: p("SELECT 1 FROM grants WHERE client_id = @clientId AND ifnull(user_id, '') = ifnull(@userId, '') AND revoked_at IS NULL AND id <> @id"),
      principalsExist: p('SELECT 1 FROM clients WHERE id = @clientId AND (@userId IS NULL OR EXISTS (SELECT 1 FROM users WHERE id = @userId))'),
      // Positional parameters: binding 19 named ones from an object cost a third more per row.
      insertToken: p(`INSERT INTO tokens (id, hash, kind, format, grant_id, family_id, parent_id, client_id, user_id, scope, issued_at, expires_at, revoked_at, consumed_at, auth_time,
          dpop_jkt, audience, act, exchanged_from)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      consume: p(`UPDATE tokens SET consumed_at = coalesce(consumed_at, @at)
        WHERE id = @id AND kind = 'refresh' AND revoked_at IS NULL AND (consumed_at IS NULL OR consumed_at >= @graceSince)`),
      sweepTokens: p('DELETE FROM tokens WHERE rowid IN (SELECT rowid FROM tokens WHERE expires_at < ? LIMIT ?)'),
      sweepCodes: p('DELETE FROM codes WHERE rowid IN (SELECT rowid FROM codes WHERE expires_at < ? LIMIT ?)'),
      sweepPushed: p('DELETE FROM pushed_requests WHERE rowid IN (SELECT rowid FROM pushed_requests WHERE expires_at < ? LIMIT ?)'),
      sweepSessions: p('DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE expires_at < ? LIMIT ?)'),
      sweepFeed: p('DELETE FROM revocation_feed WHERE seq IN (SELECT seq FROM revocation_feed WHERE until < ? LIMIT ?)'),
      // Through grants_revoked (schema.ts), then tokens_grant_family.
      revokedGrants: p('SELECT id FROM grants WHERE revoked_at < ? ORDER BY revoked_at LIMIT ?').pluck(),
      sweepGrantTokens: p('DELETE FROM tokens WHERE rowid IN (SELECT rowid FROM tokens WHERE grant_id = ? LIMIT ?)'),
      deleteGrant: p('DELETE FROM grants WHERE id = ?'),
      insertSession: p('INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (@hash, @userId, @createdAt, @expiresAt)'),
      deleteSession: p('DELETE FROM sessions WHERE hash = ?'),
      deleteUserSessions: p('DELETE FROM sessions WHERE user_id = ?'),
      retireKeys: p('UPDATE keys SET retire_at = ? WHERE retire_at IS NULL AND alg = ?'),
      hasKey: p('SELECT 1 FROM keys WHERE alg = ? LIMIT 1'),
      insertKey: p(`INSERT INTO keys (kid, alg, private_jwk, public_jwk, created_at, retire_at)
        VALUES (@kid, @alg, @privateJwk, @publicJwk, @createdAt, @retireAt)`),
      head: p('SELECT seq, hash FROM audit_head WHERE id = 1'),
      setHead: p('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1'),
      insertAudit: p(`INSERT INTO audit (seq, at, event, actor, client_id, user_id, grant_id, token_id, reason, endpoint, data, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertFeed: p('INSERT INTO revocation_feed (at, kind, value, until) VALUES (?, ?, ?, ?)'),
      webhooksVersion: p('SELECT version FROM webhooks_version WHERE id = 1').pluck(),
      webhooks: p('SELECT id, events FROM webhooks'),
      insertWebhook: p('INSERT INTO webhooks (id, url, events, sealed_secret, created_at) VALUES (@id, @url, @events, @sealedSecret, @createdAt)'),
      deleteWebhook: p('DELETE FROM webhooks WHERE id = ?'),
      deleteWebhookDeliveries: p('DELETE FROM webhook_deliveries WHERE webhook_id = ?'),
      insertDelivery: p(`INSERT INTO webhook_deliveries (id, webhook_id, event, at, actor, client_id, user_id, grant_id, token_id, family_id, access_token_id, refresh_token_id, reason,
        next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      claimDeliveries: p(`UPDATE webhook_deliveries SET next_attempt_at = @leaseUntil
        WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= @at ORDER BY next_attempt_at LIMIT @limit)
        RETURNING *, (SELECT url FROM webhooks WHERE id = webhook_id) AS url, (SELECT sealed_secret FROM webhooks WHERE id = webhook_id) AS sealed_secret`),
      recordDelivery: p(`UPDATE webhook_deliveries SET status = @status, attempts = attempts + 1, next_attempt_at = @next, last_status = @httpStatus, last_error = @error,
          finished_at = @finishedAt WHERE id = @id AND status = 'pending'`),
      sweepDeliveries: p('DELETE FROM webhook_deliveries WHERE rowid IN (SELECT rowid FROM webhook_deliveries WHERE finished_at < ? LIMIT ?)'),
    };
  }

  createClient(client: ClientRecord, audit: AuditInput, initialToken?: { hash: string; at: number }): 'created' | 'initial-token-refused' {
    // `?.`: through the writer thread an undefined argument arrives as null (writer.ts).
    if (initialToken?.hash !== undefined && this.s.consumeInitialToken.run(initialToken.hash, initialToken.at).changes === 0) return 'initial-token-refused';
    this.s.insertClient.run({
      ...client, grantTypes: JSON.stringify(client.grantTypes), redirectUris: JSON.stringify(client.redirectUris), postLogoutRedirectUris: JSON.stringify(client.postLogoutRedirectUris),
      dpopBoundAccessTokens: client.dpopBoundAccessTokens ? 1 : 0,
      resources: JSON.stringify(client.resources), exchangeAudiences: JSON.stringify(client.exchangeAudiences),
    });
    this.append([audit], client.createdAt);
    return 'created';
  }

  private forgetReads(): void {
    this.secretsChecked.clear();
    this.liveGrants.clear();
    this.head = undefined;
    this.headMoved = false;
  }

  private loadWebhooks(): void {
    this.webhooksVersion = this.s.webhooksVersion.get() as number;
    this.webhooks = new Map();
    for (const { id, events } of this.s.webhooks.all() as { id: string; events: string }[]) {
      for (const event of JSON.parse(events) as string[]) this.webhooks.set(event, [...(this.webhooks.get(event) ?? []), id]);
    }
  }

  createWebhook(webhook: WebhookRecord, audit: AuditInput[]): void {
    this.s.insertWebhook.run({ ...webhook, events: JSON.stringify(webhook.events) });
    this.append(audit, webhook.createdAt);
    // The writes after it in this transaction deliver to it too.
    this.loadWebhooks();
  }

  deleteWebhook(id: string, audit: AuditInput[]): boolean {
    if (this.s.deleteWebhook.run(id).changes === 0) return false;
    this.s.deleteWebhookDeliveries.run(id);
    this.append(audit, Date.now());
    this.loadWebhooks();
    return true;
  }

  claimDeliveries(at: number, limit: number, leaseUntil: number): ClaimedDelivery[] {
    return (this.s.claimDeliveries.all({ at, limit, leaseUntil }) as Row[]).map((r) => ({
      delivery: toDelivery({ ...r, next_attempt_at: leaseUntil }), url: r.url as string, sealedSecret: r.sealed_secret as string,
    }));
  }

  recordDelivery(id: string, attempt: DeliveryAttempt, audit: AuditInput[]): void {
    const status = attempt.outcome === 'retry' ? 'pending' : attempt.outcome;
    const changed = this.s.recordDelivery.run({
      id, status, next: attempt.outcome === 'retry' ? attempt.nextAttemptAt : attempt.at, httpStatus: attempt.httpStatus, error: attempt.error,
      finishedAt: attempt.outcome === 'retry' ? null : attempt.at,
    }).changes;
    if (changed > 0) this.append(audit, attempt.at);
  }

  setClientSecret(id: string, secretHash: string, audit: AuditInput[], previousUntil?: number, sealedSecret?: string): boolean {
    this.secretsChecked.clear();
    const now = Date.now();
    if (this.s.setClientSecret.run({ id, secretHash, until: previousUntil ?? null, now, sealed: sealedSecret ?? null }).changes === 0) return false;
    this.append(audit, now);
    return true;
  }

  updateClient(id: string, changes: ClientChanges, audit: AuditInput[]): ClientRecord | undefined {
    const row = this.s.getClientRow.get(id) as Row | undefined;
    if (!row) return undefined;
    const client: ClientRecord = { ...toClient(row), ...definedOnly(changes) };
    this.s.updateClient.run({
      ...client, grantTypes: JSON.stringify(client.grantTypes), redirectUris: JSON.stringify(client.redirectUris), postLogoutRedirectUris: JSON.stringify(client.postLogoutRedirectUris),
      dpopBoundAccessTokens: client.dpopBoundAccessTokens ? 1 : 0,
      resources: JSON.stringify(client.resources), exchangeAudiences: JSON.stringify(client.exchangeAudiences),
    });
    this.append(audit, Date.now());
    return client;
  }

  recordAssertion(clientId: string, jti: string, expiresAt: number): 'recorded' | 'replayed' {
    return this.s.recordAssertion.run(clientId, jti, expiresAt).changes === 1 ? 'recorded' : 'replayed';
  }

  recordDpopProof(jkt: string, jti: string, expiresAt: number): 'recorded' | 'replayed' {
    return this.s.recordDpopProof.run(jkt, jti, expiresAt).changes === 1 ? 'recorded' : 'replayed';
  }

  serverSecret(name: string, candidate: string): string {
    const at = Date.now();
    // The value is never audited: only that it was made.
    if (this.s.insertServerSecret.run(name, candidate, at).changes === 1) this.append([{ event: 'secret.created', actor: 'system', data: { name } }], at);
    return this.s.serverSecret.get(name) as string;
  }

  deleteClient(id: string, at: number, audit: AuditInput[]): RevocationResult | undefined {
    this.secretsChecked.clear();
    if (this.s.deleteClient.run(id).changes === 0) return undefined;
    return this.revoke({ client: id }, at, audit);
  }

  createUser(user: UserRecord, audit: AuditInput): void {
    this.s.insertUser.run({ ...user, emailVerified: user.emailVerified ? 1 : 0 });
    this.append([audit], user.createdAt);
  }

  setUserProfile(id: string, profile: UserProfile, audit: AuditInput[]): boolean {
    const { name, email, emailVerified } = profile;
    if (this.s.setUserProfile.run({ id, name, email, emailVerified: emailVerified ? 1 : 0 }).changes === 0) return false;
    this.append(audit, Date.now());
    return true;
  }

  deleteUser(id: string, at: number, audit: AuditInput[]): RevocationResult | undefined {
    if (this.s.deleteUser.run(id).changes === 0) return undefined;
    this.s.deleteUserSessions.run(id);
    return this.revoke({ user: id }, at, audit);
  }

  setPassword(id: string, passwordHash: string, at: number, audit: AuditInput[]): RevocationResult | undefined {
    if (this.s.setPassword.run(passwordHash, id).changes === 0) return undefined;
    this.s.deleteUserSessions.run(id);
    return this.revoke({ user: id }, at, audit);
  }

  saveGrant(grant: GrantRecord, audit: AuditInput[], checked?: CheckedCredentials): 'saved' | 'conflict' | 'credential-changed' {
    if (!this.unchanged(checked)) return 'credential-changed';
    // A client or user deleted after the caller read it gets no grant.
    if (this.s.principalsExist.get(grant) === undefined) return 'credential-changed';
    if (this.conflicts(grant)) return 'conflict';
    this.upsertGrant(grant);
    this.append(audit, grant.createdAt);
    return 'saved';
  }

  createCode(code: CodeRecord, audit: AuditInput[], checked?: CheckedCredentials): 'created' | 'credential-changed' {
    if (!this.unchanged(checked)) return 'credential-changed';
    this.s.insertCode.run({ ...code, resources: JSON.stringify(code.resources) });
    this.append(audit, code.issuedAt);
    return 'created';
  }

  createPushedRequest(request: PushedRequestRecord, audit: AuditInput[], checked?: CheckedCredentials): 'created' | 'credential-changed' {
    if (!this.unchanged(checked)) return 'credential-changed';
    this.s.insertPushed.run(request);
    this.append(audit, request.createdAt);
    return 'created';
  }

  createAdminToken(token: AdminTokenRecord, audit: AuditInput[]): 'created' | 'conflict' {
    const inserted = this.db.prepare(`INSERT INTO admin_tokens (id, name, hash, read_only, created_at, expires_at, revoked_at)
      VALUES (@id, @name, @hash, @readOnly, @createdAt, @expiresAt, @revokedAt) ON CONFLICT DO NOTHING`).run({ ...token, readOnly: token.readOnly ? 1 : 0 });
    if (inserted.changes === 0) return 'conflict';
    this.append(audit, token.createdAt);
    return 'created';
  }

  revokeAdminToken(id: string, at: number, audit: AuditInput[]): boolean {
    if (this.db.prepare('UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes === 0) return false;
    this.append(audit, at);
    return true;
  }

  createInitialAccessToken(token: InitialAccessTokenRecord, audit: AuditInput[]): void {
    this.s.insertInitialToken.run(token);
    this.append(audit, token.createdAt);
  }

  consumePushedRequest(hash: string, at: number): boolean {
    return this.s.consumePushed.run(hash, at).changes === 1;
  }

  redeemCode(codeId: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials): ClaimResult {
    if (!this.unchanged(checked)) return 'credential-changed';
    if (!this.grantsLive(tokens)) return 'grant-revoked';
    if (this.s.redeemCode.run(at, codeId).changes === 0) return 'already-used';
    for (const t of tokens) this.insertToken(t);
    this.append(audit, at);
    return 'claimed';
  }

  createDeviceCode(code: DeviceCodeRecord, audit: AuditInput[]): 'created' | 'conflict' {
    if (this.s.insertDeviceCode.run({ ...code, resources: JSON.stringify(code.resources) }).changes === 0) return 'conflict';
    this.append(audit, code.issuedAt);
    return 'created';
  }

  recordDevicePoll(id: string, previousPoll: number | null, at: number, interval: number): boolean {
    return this.s.pollDeviceCode.run({ id, previousPoll, at, interval }).changes === 1;
  }

  decideDeviceCode(
    id: string, decision: DeviceDecision, at: number, audit: AuditInput[], checked?: CheckedCredentials,
  ): 'decided' | 'not-pending' | 'conflict' | 'grant-revoked' | 'credential-changed' {
    if (!this.unchanged(checked)) return 'credential-changed';
    const grant = 'approve' in decision ? decision.approve.grant : undefined;
    // Every check before the first write: a write is only rolled back if it throws.
    if (grant) {
      if (this.s.principalsExist.get(grant) === undefined) return 'credential-changed';
      if (this.conflicts(grant)) return 'conflict';
      if (this.s.grantRevoked.get(grant.id) !== undefined) return 'grant-revoked';
    }
    const row = 'approve' in decision
      ? { status: 'approved', userId: decision.approve.userId, grantId: decision.approve.grant.id }
      : { status: 'denied', userId: decision.deny.userId, grantId: null };
    if (this.s.decideDeviceCode.run({ id, at, ...row }).changes === 0) return 'not-pending';
    // The consent goes with the approval: stored only if the code was still pending.
    if (grant) this.upsertGrant(grant);
    this.append(audit, at);
    return 'decided';
  }

  redeemDeviceCode(id: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials): ClaimResult {
    if (!this.unchanged(checked)) return 'credential-changed';
    if (!this.grantsLive(tokens)) return 'grant-revoked';
    if (this.s.redeemDeviceCode.run(id).changes === 0) return 'already-used';
    for (const t of tokens) this.insertToken(t);
    this.append(audit, at);
    return 'claimed';
  }

  issueTokens(
    tokens: TokenRecord[], audit: AuditInput[], grant?: GrantRecord, checked?: CheckedCredentials,
  ): 'issued' | 'conflict' | 'grant-revoked' | 'credential-changed' {
    if (!this.unchanged(checked)) return 'credential-changed';
    // RFC 8693: an exchanged token only while its subject token is unrevoked (its family's
    // revocation, RFC 9700 §4.14.2 reuse detection, included), as the engine read it: else a
    // revocation committed in between would leave a live token in a revoked family.
    if (tokens.some((t) => t.exchangedFrom !== null && this.s.subjectLive.get(t.exchangedFrom) === undefined)) return 'grant-revoked';
    if (grant) {
      // A client or user deleted after the caller read it gets no new grant (deleting one revokes
      // the grants it already has, which grantsLive catches).
      if (this.s.principalsExist.get(grant) === undefined) return 'grant-revoked';
      if (this.conflicts(grant)) return 'conflict';
      // Checked before the upsert, which would widen a revoked grant's scope (a write is only
      // rolled back if it throws).
      if (this.s.grantRevoked.get(grant.id) !== undefined) return 'grant-revoked';
      this.upsertGrant(grant);
    }
    if (!this.grantsLive(tokens)) return 'grant-revoked';
    for (const t of tokens) this.insertToken(t);
    this.append(audit, tokens[0]?.issuedAt ?? Date.now());
    return 'issued';
  }

  rotateRefresh(oldId: string, at: number, graceSince: number | null, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials): ClaimResult {
    if (!this.unchanged(checked)) return 'credential-changed';
    // Checked first: a revocation of the grant also revoked the old token, which would otherwise
    // look like reuse.
    if (!this.grantsLive(tokens)) return 'grant-revoked';
    // graceSince = null: only an unconsumed token can be claimed (consumed_at >= +Inf is never true).
    const claimed = this.s.consume.run({ id: oldId, at, graceSince: graceSince ?? Number.MAX_SAFE_INTEGER }).changes;
    if (claimed === 0) return 'already-used';
    for (const t of tokens) this.insertToken(t);
    this.append(audit, at);
    return 'claimed';
  }

  revoke(target: RevocationTarget, at: number, audit: AuditInput[]): RevocationResult {
    this.liveGrants.clear();
    const { st, sql } = this.statementsFor(target);
    const { value } = sql;
    const { n, until, accessUntil } = st.count.get(...sql.tokenArgs) as { n: number; until: number | null; accessUntil: number | null };
    const exchanged = (st.exchangedOut?.all(value, value) ?? []) as Array<{ grantId: string; until: number }>;
    const late = (st.late?.all(...sql.tokenArgs, at) ?? []) as Array<{ id: string; until: number }>;
    st.tokens.run(at, ...sql.tokenArgs);
    const grants = st.grants ? st.grants.run(at, value).changes : 0;
    st.codes.run(value);
    // Resource servers only ever see access tokens: the feed tells them when one was revoked.
    if (accessUntil !== null) this.s.insertFeed.run(at, sql.kind, String(value), accessUntil);
    for (const e of exchanged) this.s.insertFeed.run(at, 'grant', e.grantId, e.until);
    for (const t of late) this.s.insertFeed.run(at, 'token', t.id, t.until);
    this.append(audit, at);
    return { tokens: n, grants, until };
  }

  sweepExpired(before: number, limit: number): number {
    let n = this.s.sweepTokens.run(before, limit).changes;
    if (n < limit) n += this.s.sweepCodes.run(before, limit - n).changes;
    if (n < limit) n += this.s.sweepPushed.run(before, limit - n).changes;
    if (n < limit) n += this.s.sweepDeviceCodes.run(before, limit - n).changes;
    if (n < limit) n += this.s.sweepSessions.run(before, limit - n).changes;
    if (n < limit) n += this.s.sweepAssertions.run(before, limit - n).changes;
    if (n < limit) n += this.s.sweepDpopProofs.run(before, limit - n).changes;
    if (n < limit) n += this.s.sweepInitialTokens.run(before, limit - n).changes;
    if (n < limit) n += this.s.sweepFeed.run(before, limit - n).changes;
    if (n < limit) n += this.s.sweepDeliveries.run(before, limit - n).changes;
    if (n < limit) n += this.sweepRevokedGrants(before, limit - n);
    return n;
  }

  /**
   * Grants revoked before `before`, with their tokens, at most `limit` rows. Every token of a
   * revoked grant was revoked with it (revoke() and grantsLive), so nothing live goes; a grant's
   * tokens go first, the grant once none is left, so a token never outlives its grant. Codes are
   * left to expiry (a code whose grant is gone redeems to nothing), the feed to `until`, the
   * audit log is never touched.
   */
  private sweepRevokedGrants(before: number, limit: number): number {
    let n = 0;
    for (const id of this.s.revokedGrants.all(before, limit) as string[]) {
      n += this.s.sweepGrantTokens.run(id, limit - n).changes;
      // Tokens may be left: the next batch goes on with them.
      if (n >= limit) break;
      n += this.s.deleteGrant.run(id).changes;
      if (n >= limit) break;
    }
    return n;
  }

  createSession(session: SessionRecord, checked?: CheckedCredentials): 'created' | 'credential-changed' {
    if (!this.unchanged(checked)) return 'credential-changed';
    this.s.insertSession.run(session);
    return 'created';
  }

  endSession(hash: string, audit: AuditInput[]): boolean {
    if (this.s.deleteSession.run(hash).changes === 0) return false;
    this.append(audit, Date.now());
    return true;
  }

  deleteSession(hash: string): void {
    this.s.deleteSession.run(hash);
  }

  addKey(key: KeyRecord, retireAt: number | null, audit: AuditInput[]): boolean {
    // One current key per algorithm: a new RS256 key leaves the ES256 key current, and the reverse.
    if (retireAt !== null) this.s.retireKeys.run(retireAt, key.alg);
    // The first key of its alg: another process's writer may have added it since our read.
    else if (this.s.hasKey.get(key.alg) !== undefined) return false;
    this.s.insertKey.run(key);
    this.append(audit, key.createdAt);
    return true;
  }

  /** Writes nothing: a round trip through the writer and an (empty) commit, for readiness. */
  ping(): true {
    return true;
  }

  appendAudit(audit: AuditInput[]): void {
    this.append(audit, Date.now());
  }

  /** Chains the records onto the audit log's head (audit/chain.ts) and moves the head (written when the transaction settles). */
  private append(audit: AuditInput[], at: number): void {
    if (audit.length === 0) return;
    this.head ??= this.s.head.get() as { seq: number; hash: string };
    let { seq, hash } = this.head;
    for (const input of audit) {
      const r = chainRecord(hash, ++seq, at, input);
      this.s.insertAudit.run(r.seq, r.at, r.event, r.actor, r.clientId, r.userId, r.grantId, r.tokenId, r.reason, r.endpoint, r.data === null ? null : JSON.stringify(r.data), r.prevHash, r.hash);
      hash = r.hash;
    }
    this.head = { seq, hash };
    this.headMoved = true;
    // No subscription (the usual case): nothing more per write.
    if (this.webhooks.size > 0) this.enqueueDeliveries(audit, at);
  }

  /** The outbox rows of the records' subscribed events, in the records' transaction (no token, code or secret: ids and the reason). */
  private enqueueDeliveries(audit: AuditInput[], at: number): void {
    for (const a of audit) {
      for (const webhookId of this.webhooks.get(a.event) ?? []) {
        this.s.insertDelivery.run(
          randomId(), webhookId, a.event, at, a.actor, a.clientId ?? null, a.userId ?? null, a.grantId ?? null, a.tokenId ?? null, familyOf(a), ...rotatedPairOf(a),
          a.reason ?? null, at,
        );
      }
    }
  }

  /** Inserts the grant or widens it (scope and resources, RFC 8707): consent never narrows. */
  private upsertGrant(grant: GrantRecord): void {
    this.s.upsertGrant.run({ ...grant, resources: JSON.stringify(grant.resources) });
  }

  private insertToken(t: TokenRecord): void {
    this.s.insertToken.run(
      t.id, t.hash, t.kind, t.format, t.grantId, t.familyId, t.parentId, t.clientId, t.userId, t.scope, t.issuedAt, t.expiresAt, t.revokedAt, t.consumedAt, t.authTime,
      t.dpopJkt, t.audience, t.act, t.exchangedFrom,
    );
  }

  /** Whether the credentials a write was authorized by are still the stored ones (inside the write). */
  private unchanged(checked: CheckedCredentials | undefined): boolean {
    if (checked?.client && this.secretsChecked.get(checked.client.id) !== checked.client.secretHash) {
      if (this.s.clientSecretIs.get({ id: checked.client.id, hash: checked.client.secretHash, now: Date.now() }) === undefined) return false;
      this.secretsChecked.set(checked.client.id, checked.client.secretHash);
    }
    if (checked?.user && this.s.passwordIs.get(checked.user.id, checked.user.passwordHash) === undefined) return false;
    if (checked?.session && this.s.sessionIs.get(checked.session.hash, checked.session.userId) === undefined) return false;
    return true;
  }

  /**
   * Whether storing `grant` live would give its (client, user) pair a second live grant. Asked
   * before writing, so the write answers 'conflict' having stored nothing; the unique index
   * grants_live_pair stands behind it.
   */
  private conflicts(grant: GrantRecord): boolean {
    return grant.revokedAt === null && this.s.otherLiveGrant.get(grant) !== undefined;
  }

  /** Whether every token's grant exists and is not revoked (inside the write). */
  private grantsLive(tokens: TokenRecord[]): boolean {
    for (const { grantId } of tokens) {
      if (this.liveGrants.has(grantId)) continue;
      if (this.s.grantLive.get(grantId) === undefined) return false;
      this.liveGrants.add(grantId);
    }
    return true;
  }

  private statementsFor(target: RevocationTarget): { st: RevokeStatements; sql: ReturnType<typeof targetSql> } {
    const sql = targetSql(target);
    let st = this.revokeStatements.get(sql.kind);
    if (!st) {
      const p = (q: string) => this.db.prepare(q);
      st = {
        count: p(`SELECT count(*) AS n, max(expires_at) AS until, max(CASE WHEN kind = 'access' THEN expires_at END) AS accessUntil
          FROM tokens WHERE ${sql.tokens} AND revoked_at IS NULL`),
        tokens: p(`UPDATE tokens SET revoked_at = ? WHERE ${sql.tokens} AND revoked_at IS NULL`),
        grants: sql.grants === null ? null : p(`UPDATE grants SET revoked_at = ? WHERE ${sql.grants} AND revoked_at IS NULL`),
        codes: p(`DELETE FROM codes WHERE ${sql.codes}`),
        exchangedOut: sql.kind === 'client' ? p(EXCHANGED_OUT) : null,
        late: sql.kind === 'user' || sql.kind === 'client'
          ? p(`SELECT id, expires_at AS until FROM tokens WHERE ${sql.tokens} AND revoked_at IS NULL AND kind = 'access' AND issued_at >= ?`)
          : null,
      };
      this.revokeStatements.set(sql.kind, st);
    }
    return { st, sql };
  }
}

/** The write methods by name: what crosses to the writer thread is a name and its arguments. */
export type WriteName = {
  [K in keyof SqliteWrites]: SqliteWrites[K] extends (...args: never[]) => unknown ? K : never;
}[keyof SqliteWrites];
export type WriteArgs<K extends WriteName> = Parameters<SqliteWrites[K]>;

const NAMES = [
  'createClient', 'createWebhook', 'deleteWebhook', 'claimDeliveries', 'recordDelivery', 'setClientSecret', 'updateClient', 'recordAssertion',
  'recordDpopProof', 'serverSecret', 'deleteClient', 'createUser', 'setUserProfile', 'deleteUser', 'setPassword', 'saveGrant', 'createCode',
  'createPushedRequest', 'createAdminToken', 'revokeAdminToken', 'createInitialAccessToken', 'consumePushedRequest', 'redeemCode',
  'createDeviceCode', 'recordDevicePoll', 'decideDeviceCode', 'redeemDeviceCode', 'issueTokens', 'rotateRefresh', 'revoke', 'sweepExpired',
  'createSession', 'endSession', 'deleteSession', 'addKey', 'ping', 'appendAudit',
] as const satisfies readonly WriteName[];
// The list names every write: a write added to SqliteWrites and not here fails to compile.
type Unlisted = Exclude<WriteName, (typeof NAMES)[number]>;
const allListed: [Unlisted] extends [never] ? true : Unlisted = true;
void allListed;
/** Every write's name, at run time: what a batch from another process may name (writer-thread.ts). */
export const WRITE_NAMES: ReadonlySet<string> = new Set(NAMES);
export type WriteResult<K extends WriteName> = ReturnType<SqliteWrites[K]>;

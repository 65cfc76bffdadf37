/**
 * The SQLite store: one file, WAL journal, prepared statements, every write method atomic (one
 * savepoint; the writes of one event-loop turn share a transaction and its fsync: group-commit.ts).
 * better-sqlite3 is synchronous, which suits SQLite (no thread hop per query); the async
 * methods keep the contract the same for network stores.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { chainRecord } from '../../lifecycle/audit-chain.js';
import type {
  AuditInput, AuditRecord, ClaimResult, ClientRecord, CodeRecord, FeedEvent, GrantRecord, KeyRecord,
  RevocationResult, RevocationTarget, SessionRecord, Store, TokenFilter, TokenRecord, UserRecord,
} from '../types.js';
import { GroupCommit } from './group-commit.js';
import { migrations } from './schema.js';

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** 'full' (default) fsyncs every commit; 'normal' survives a crash of the process, not of the machine. */
  synchronous?: 'full' | 'normal';
}

type Row = Record<string, unknown>;

const toClient = (r: Row): ClientRecord => ({
  id: r.id as string,
  name: r.name as string,
  secretHash: r.secret_hash as string | null,
  authMethod: r.auth_method as ClientRecord['authMethod'],
  grantTypes: JSON.parse(r.grant_types as string),
  redirectUris: JSON.parse(r.redirect_uris as string),
  scope: r.scope as string,
  tokenFormat: r.token_format as ClientRecord['tokenFormat'],
  accessTtl: r.access_ttl as number | null,
  refreshTtl: r.refresh_ttl as number | null,
  createdAt: r.created_at as number,
});
const toUser = (r: Row): UserRecord => ({
  id: r.id as string,
  username: r.username as string,
  passwordHash: r.password_hash as string,
  createdAt: r.created_at as number,
});
const toGrant = (r: Row): GrantRecord => ({
  id: r.id as string,
  clientId: r.client_id as string,
  userId: r.user_id as string | null,
  scope: r.scope as string,
  createdAt: r.created_at as number,
  revokedAt: r.revoked_at as number | null,
});
const toToken = (r: Row): TokenRecord => ({
  id: r.id as string,
  hash: r.hash as string,
  kind: r.kind as TokenRecord['kind'],
  format: r.format as TokenRecord['format'],
  grantId: r.grant_id as string,
  familyId: r.family_id as string,
  parentId: r.parent_id as string | null,
  clientId: r.client_id as string,
  userId: r.user_id as string | null,
  scope: r.scope as string,
  issuedAt: r.issued_at as number,
  expiresAt: r.expires_at as number,
  revokedAt: r.revoked_at as number | null,
  consumedAt: r.consumed_at as number | null,
});
const toCode = (r: Row): CodeRecord => ({
  id: r.id as string,
  hash: r.hash as string,
  grantId: r.grant_id as string,
  clientId: r.client_id as string,
  userId: r.user_id as string,
  scope: r.scope as string,
  redirectUri: r.redirect_uri as string,
  codeChallenge: r.code_challenge as string | null,
  codeChallengeMethod: r.code_challenge_method as CodeRecord['codeChallengeMethod'],
  issuedAt: r.issued_at as number,
  expiresAt: r.expires_at as number,
  redeemedAt: r.redeemed_at as number | null,
});
const toKey = (r: Row): KeyRecord => ({
  kid: r.kid as string,
  alg: r.alg as string,
  privateJwk: r.private_jwk as string,
  publicJwk: r.public_jwk as string,
  createdAt: r.created_at as number,
  retireAt: r.retire_at as number | null,
});
const toAudit = (r: Row): AuditRecord => ({
  seq: r.seq as number,
  at: r.at as number,
  event: r.event as string,
  actor: r.actor as string,
  clientId: r.client_id as string | null,
  userId: r.user_id as string | null,
  grantId: r.grant_id as string | null,
  tokenId: r.token_id as string | null,
  reason: r.reason as string | null,
  endpoint: r.endpoint as string | null,
  data: r.data === null ? null : JSON.parse(r.data as string),
  prevHash: r.prev_hash as string,
  hash: r.hash as string,
});

const toFeedEvent = (r: Row): FeedEvent => {
  const kind = r.kind as string;
  const value = r.value as string;
  return {
    seq: r.seq as number,
    at: r.at as number,
    target: (kind === 'issuedBefore' ? { issuedBefore: Number(value) } : { [kind]: value }) as RevocationTarget,
    until: r.until as number,
  };
};

/** Which rows each revocation target covers: [token condition, grant condition, unredeemed-code condition]. */
const USER_GRANTS = 'grant_id IN (SELECT id FROM grants WHERE user_id = ? AND revoked_at IS NULL)';
const CLIENT_GRANTS = 'grant_id IN (SELECT id FROM grants WHERE client_id = ? AND revoked_at IS NULL)';

function targetSql(target: RevocationTarget): { tokens: string; grants: string | null; codes: string; value: string | number } {
  if ('token' in target) return { tokens: 'id = ?', grants: null, codes: '0 AND ?', value: target.token };
  if ('family' in target) return { tokens: 'family_id = ?', grants: null, codes: 'id = ?', value: target.family };
  if ('grant' in target) return { tokens: 'grant_id = ?', grants: 'id = ?', codes: 'grant_id = ?', value: target.grant };
  // A user's or client's tokens are reached through their grants (indexed); every token has the
  // user and client of its grant, and a revoked grant has no unrevoked token.
  if ('user' in target) return { tokens: USER_GRANTS, grants: 'user_id = ?', codes: 'user_id = ?', value: target.user };
  if ('client' in target) return { tokens: CLIENT_GRANTS, grants: 'client_id = ?', codes: 'client_id = ?', value: target.client };
  return { tokens: 'issued_at < ?', grants: null, codes: 'issued_at < ?', value: target.issuedBefore };
}

export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly s;
  private readonly group: GroupCommit;
  private readonly revokeTx: (target: RevocationTarget, at: number, audit: AuditInput[]) => RevocationResult;
  private readonly appendTx: (audit: AuditInput[], at: number) => void;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    const db = new Database(options.path);
    this.db = db;
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'full'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    this.migrate();
    this.group = new GroupCommit(db);

    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insertClient: p(`INSERT INTO clients (id, name, secret_hash, auth_method, grant_types, redirect_uris, scope, token_format, access_ttl, refresh_ttl, created_at)
        VALUES (@id, @name, @secretHash, @authMethod, @grantTypes, @redirectUris, @scope, @tokenFormat, @accessTtl, @refreshTtl, @createdAt)`),
      getClient: p('SELECT * FROM clients WHERE id = ?'),
      listClients: p('SELECT * FROM clients ORDER BY created_at, id'),
      deleteClient: p('DELETE FROM clients WHERE id = ?'),
      insertUser: p('INSERT INTO users (id, username, password_hash, created_at) VALUES (@id, @username, @passwordHash, @createdAt)'),
      getUser: p('SELECT * FROM users WHERE id = ?'),
      getUserByName: p('SELECT * FROM users WHERE username = ?'),
      listUsers: p('SELECT * FROM users ORDER BY created_at, id'),
      deleteUser: p('DELETE FROM users WHERE id = ?'),
      setPassword: p('UPDATE users SET password_hash = ? WHERE id = ?'),
      findGrant: p('SELECT * FROM grants WHERE client_id = ? AND user_id IS ? AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1'),
      getGrant: p('SELECT * FROM grants WHERE id = ?'),
      upsertGrant: p(`INSERT INTO grants (id, client_id, user_id, scope, created_at, revoked_at)
        VALUES (@id, @clientId, @userId, @scope, @createdAt, @revokedAt)
        ON CONFLICT (id) DO UPDATE SET scope = excluded.scope`),
      insertCode: p(`INSERT INTO codes (id, hash, grant_id, client_id, user_id, scope, redirect_uri, code_challenge, code_challenge_method, issued_at, expires_at, redeemed_at)
        VALUES (@id, @hash, @grantId, @clientId, @userId, @scope, @redirectUri, @codeChallenge, @codeChallengeMethod, @issuedAt, @expiresAt, @redeemedAt)`),
      getCode: p('SELECT * FROM codes WHERE id = ?'),
      redeemCode: p('UPDATE codes SET redeemed_at = ? WHERE id = ? AND redeemed_at IS NULL'),
      grantLive: p('SELECT 1 FROM grants WHERE id = ? AND revoked_at IS NULL'),
      insertToken: p(`INSERT INTO tokens (id, hash, kind, format, grant_id, family_id, parent_id, client_id, user_id, scope, issued_at, expires_at, revoked_at, consumed_at)
        VALUES (@id, @hash, @kind, @format, @grantId, @familyId, @parentId, @clientId, @userId, @scope, @issuedAt, @expiresAt, @revokedAt, @consumedAt)`),
      getToken: p('SELECT * FROM tokens WHERE id = ?'),
      consume: p(`UPDATE tokens SET consumed_at = coalesce(consumed_at, @at)
        WHERE id = @id AND kind = 'refresh' AND revoked_at IS NULL AND (consumed_at IS NULL OR consumed_at >= @graceSince)`),
      sweepTokens: p('DELETE FROM tokens WHERE rowid IN (SELECT rowid FROM tokens WHERE expires_at < ? LIMIT ?)'),
      sweepCodes: p('DELETE FROM codes WHERE rowid IN (SELECT rowid FROM codes WHERE expires_at < ? LIMIT ?)'),
      sweepSessions: p('DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE expires_at < ? LIMIT ?)'),
      insertSession: p('INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (@hash, @userId, @createdAt, @expiresAt)'),
      findSession: p('SELECT * FROM sessions WHERE hash = ?'),
      deleteSession: p('DELETE FROM sessions WHERE hash = ?'),
      deleteUserSessions: p('DELETE FROM sessions WHERE user_id = ?'),
      listKeys: p('SELECT * FROM keys ORDER BY created_at, kid'),
      retireKeys: p('UPDATE keys SET retire_at = ? WHERE retire_at IS NULL'),
      insertKey: p(`INSERT INTO keys (kid, alg, private_jwk, public_jwk, created_at, retire_at)
        VALUES (@kid, @alg, @privateJwk, @publicJwk, @createdAt, @retireAt)`),
      head: p('SELECT seq, hash FROM audit_head WHERE id = 1'),
      setHead: p('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1'),
      insertAudit: p(`INSERT INTO audit (seq, at, event, actor, client_id, user_id, grant_id, token_id, reason, endpoint, data, prev_hash, hash)
        VALUES (@seq, @at, @event, @actor, @clientId, @userId, @grantId, @tokenId, @reason, @endpoint, @data, @prevHash, @hash)`),
      readAudit: p('SELECT * FROM audit WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?'),
      insertFeed: p('INSERT INTO revocation_feed (at, kind, value, until) VALUES (?, ?, ?, ?)'),
      readFeed: p('SELECT * FROM revocation_feed WHERE seq > ? ORDER BY seq LIMIT ?'),
      sweepFeed: p('DELETE FROM revocation_feed WHERE seq IN (SELECT seq FROM revocation_feed WHERE until < ? LIMIT ?)'),
    };

    const s = this.s;
    this.appendTx = (audit, at) => {
      if (audit.length === 0) return;
      let { seq, hash } = s.head.get() as { seq: number; hash: string };
      for (const input of audit) {
        const record = chainRecord(hash, ++seq, at, input);
        s.insertAudit.run({ ...record, data: record.data === null ? null : JSON.stringify(record.data) });
        hash = record.hash;
      }
      s.setHead.run(seq, hash);
    };

    const revokeStatements = new Map<string, { count: Database.Statement; tokens: Database.Statement; grants: Database.Statement | null; codes: Database.Statement }>();
    const statementsFor = (target: RevocationTarget) => {
      const sql = targetSql(target);
      const key = Object.keys(target)[0] as string;
      let st = revokeStatements.get(key);
      if (!st) {
        st = {
          count: p(`SELECT count(*) AS n, max(expires_at) AS until, max(CASE WHEN kind = 'access' THEN expires_at END) AS accessUntil
            FROM tokens WHERE ${sql.tokens} AND revoked_at IS NULL`),
          tokens: p(`UPDATE tokens SET revoked_at = ? WHERE ${sql.tokens} AND revoked_at IS NULL`),
          grants: sql.grants === null ? null : p(`UPDATE grants SET revoked_at = ? WHERE ${sql.grants} AND revoked_at IS NULL`),
          codes: p(`DELETE FROM codes WHERE ${sql.codes} AND redeemed_at IS NULL`),
        };
        revokeStatements.set(key, st);
      }
      return { st, value: sql.value };
    };
    this.revokeTx = (target, at, audit) => {
      const { st, value } = statementsFor(target);
      const { n, until, accessUntil } = st.count.get(value) as { n: number; until: number | null; accessUntil: number | null };
      st.tokens.run(at, value);
      const grants = st.grants ? st.grants.run(at, value).changes : 0;
      st.codes.run(value);
      // Resource servers only ever see access tokens: the feed tells them when one was revoked.
      if (accessUntil !== null) s.insertFeed.run(at, Object.keys(target)[0], String(value), accessUntil);
      this.appendTx(audit, at);
      return { tokens: n, grants, until };
    };
  }

  private migrate() {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < migrations.length; v++) {
      this.db.transaction(() => {
        this.db.exec(migrations[v] as string);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  /** Whether every token's grant exists and is not revoked (inside a write). */
  private grantsLive(tokens: TokenRecord[]): boolean {
    let checked: string | undefined;
    for (const { grantId } of tokens) {
      if (grantId === checked) continue;
      if (this.s.grantLive.get(grantId) === undefined) return false;
      checked = grantId;
    }
    return true;
  }

  /** A write: one savepoint in the next group commit (group-commit.ts). */
  private tx<T>(fn: () => T): Promise<T> {
    return this.group.run(fn);
  }

  async createClient(client: ClientRecord, audit: AuditInput): Promise<void> {
    return this.tx(() => {
      this.s.insertClient.run({ ...client, grantTypes: JSON.stringify(client.grantTypes), redirectUris: JSON.stringify(client.redirectUris) });
      this.appendTx([audit], client.createdAt);
    });
  }

  async getClient(id: string) {
    const r = this.s.getClient.get(id) as Row | undefined;
    return r && toClient(r);
  }

  async listClients() {
    return (this.s.listClients.all() as Row[]).map(toClient);
  }

  async deleteClient(id: string, at: number, audit: AuditInput[]) {
    return this.tx(() => {
      if (this.s.deleteClient.run(id).changes === 0) return undefined;
      return this.revokeTx({ client: id }, at, audit);
    });
  }

  async createUser(user: UserRecord, audit: AuditInput) {
    return this.tx(() => {
      this.s.insertUser.run(user);
      this.appendTx([audit], user.createdAt);
    });
  }

  async getUser(id: string) {
    const r = this.s.getUser.get(id) as Row | undefined;
    return r && toUser(r);
  }

  async getUserByName(username: string) {
    const r = this.s.getUserByName.get(username) as Row | undefined;
    return r && toUser(r);
  }

  async listUsers() {
    return (this.s.listUsers.all() as Row[]).map(toUser);
  }

  async deleteUser(id: string, at: number, audit: AuditInput[]) {
    return this.tx(() => {
      if (this.s.deleteUser.run(id).changes === 0) return undefined;
      this.s.deleteUserSessions.run(id);
      return this.revokeTx({ user: id }, at, audit);
    });
  }

  async setPassword(id: string, passwordHash: string, at: number, audit: AuditInput[]) {
    return this.tx(() => {
      if (this.s.setPassword.run(passwordHash, id).changes === 0) return undefined;
      this.s.deleteUserSessions.run(id);
      return this.revokeTx({ user: id }, at, audit);
    });
  }

  async findGrant(clientId: string, userId: string | null) {
    const r = this.s.findGrant.get(clientId, userId) as Row | undefined;
    return r && toGrant(r);
  }

  async getGrant(id: string) {
    const r = this.s.getGrant.get(id) as Row | undefined;
    return r && toGrant(r);
  }

  async saveGrant(grant: GrantRecord, audit: AuditInput[]) {
    return this.tx(() => {
      this.s.upsertGrant.run(grant);
      this.appendTx(audit, grant.createdAt);
    });
  }

  async createCode(code: CodeRecord, audit: AuditInput[]) {
    return this.tx(() => {
      this.s.insertCode.run(code);
      this.appendTx(audit, code.issuedAt);
    });
  }

  async getCode(id: string) {
    const r = this.s.getCode.get(id) as Row | undefined;
    return r && toCode(r);
  }

  async redeemCode(codeId: string, at: number, tokens: TokenRecord[], audit: AuditInput[]): Promise<ClaimResult> {
    return this.tx((): ClaimResult => {
      if (!this.grantsLive(tokens)) return 'grant-revoked';
      if (this.s.redeemCode.run(at, codeId).changes === 0) return 'already-used';
      for (const t of tokens) this.s.insertToken.run(t);
      this.appendTx(audit, at);
      return 'claimed';
    });
  }

  async issueTokens(tokens: TokenRecord[], audit: AuditInput[], grant?: GrantRecord) {
    return this.tx(() => {
      if (grant) this.s.upsertGrant.run(grant);
      if (!this.grantsLive(tokens)) return 'grant-revoked' as const;
      for (const t of tokens) this.s.insertToken.run(t);
      this.appendTx(audit, tokens[0]?.issuedAt ?? Date.now());
      return 'issued' as const;
    });
  }

  async getToken(id: string) {
    const r = this.s.getToken.get(id) as Row | undefined;
    return r && toToken(r);
  }

  async listTokens(filter: TokenFilter) {
    const where: string[] = [];
    const args: unknown[] = [];
    // Through the grants, which are indexed by user and client (tokens are not).
    if (filter.userId !== undefined) { where.push('grant_id IN (SELECT id FROM grants WHERE user_id = ?)'); args.push(filter.userId); }
    if (filter.clientId !== undefined) { where.push('grant_id IN (SELECT id FROM grants WHERE client_id = ?)'); args.push(filter.clientId); }
    if (filter.activeAt !== undefined) {
      where.push('revoked_at IS NULL AND consumed_at IS NULL AND expires_at > ?');
      args.push(filter.activeAt);
    }
    const sql = `SELECT * FROM tokens ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY issued_at, id LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1000) as Row[]).map(toToken);
  }

  async rotateRefresh(oldId: string, at: number, graceSince: number | null, tokens: TokenRecord[], audit: AuditInput[]): Promise<ClaimResult> {
    return this.tx((): ClaimResult => {
      // Checked first: a revocation of the grant also revoked the old token, which would
      // otherwise look like reuse.
      if (!this.grantsLive(tokens)) return 'grant-revoked';
      // graceSince = null: only an unconsumed token can be claimed (consumed_at >= +Inf is never true).
      const claimed = this.s.consume.run({ id: oldId, at, graceSince: graceSince ?? Number.MAX_SAFE_INTEGER }).changes;
      if (claimed === 0) return 'already-used';
      for (const t of tokens) this.s.insertToken.run(t);
      this.appendTx(audit, at);
      return 'claimed';
    });
  }

  async revoke(target: RevocationTarget, at: number, audit: AuditInput[]) {
    return this.tx(() => this.revokeTx(target, at, audit));
  }

  async readFeed(after: number, limit: number) {
    return (this.s.readFeed.all(after, limit) as Row[]).map(toFeedEvent);
  }

  async sweepExpired(before: number, limit: number) {
    return this.tx(() => {
      let n = this.s.sweepTokens.run(before, limit).changes;
      if (n < limit) n += this.s.sweepCodes.run(before, limit - n).changes;
      if (n < limit) n += this.s.sweepSessions.run(before, limit - n).changes;
      if (n < limit) n += this.s.sweepFeed.run(before, limit - n).changes;
      return n;
    });
  }

  async createSession(session: SessionRecord) {
    this.s.insertSession.run(session);
  }

  async findSessionByHash(hash: string) {
    const r = this.s.findSession.get(hash) as Row | undefined;
    return r && { hash: r.hash as string, userId: r.user_id as string, createdAt: r.created_at as number, expiresAt: r.expires_at as number };
  }

  async deleteSession(hash: string) {
    this.s.deleteSession.run(hash);
  }

  async listKeys() {
    return (this.s.listKeys.all() as Row[]).map(toKey);
  }

  async addKey(key: KeyRecord, retireAt: number | null, audit: AuditInput[]) {
    return this.tx(() => {
      if (retireAt !== null) this.s.retireKeys.run(retireAt);
      this.s.insertKey.run(key);
      this.appendTx(audit, key.createdAt);
    });
  }

  async appendAudit(audit: AuditInput[]) {
    return this.tx(() => this.appendTx(audit, Date.now()));
  }

  async readAudit(after: number, limit: number, since = 0) {
    return (this.s.readAudit.all(after, since, limit) as Row[]).map(toAudit);
  }

  async auditHead() {
    return this.s.head.get() as { seq: number; hash: string };
  }

  async close() {
    if (!this.db.open) return;
    this.group.flush();
    this.db.close();
  }
}

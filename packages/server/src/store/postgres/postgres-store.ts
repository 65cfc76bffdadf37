/**
 * The PostgreSQL store: several `tessera serve` processes (and the CLI) on one database behave
 * as one server. Each write is one transaction (writes.ts says how concurrent ones stay correct);
 * reads go to the pool. Other instances learn of changes through LISTEN/NOTIFY: `tessera_clients`
 * (a client changed or was deleted: drop it from the cache) and `tessera_feed` (a revocation was
 * appended: wake the revocation streams).
 *
 * The database being away (restarting, unreachable, overloaded) is not a bug: every method then
 * rejects with a 503 temporarily_unavailable (connection.ts), and the pool reconnects by itself.
 */
import type {
  AuditInput, AuditRecord, CheckedCredentials, ClientRecord, CodeRecord, FeedEvent, FeedTarget, GrantRecord, KeyRecord, RevocationTarget,
  SessionRecord, Store, TokenFilter, TokenRecord, UserRecord,
} from '../types.js';
import { connect, guarded, type PostgresOptions, type Sql, transactionBody } from './connection.js';
import { SchemaMismatch, schemaVersion } from './migrate.js';
import * as w from './writes.js';

type Row = Record<string, unknown>;

/**
 * How long a cached client is used without reading it again. NOTIFY drops a changed client at
 * once; this bounds how stale one can be while notifications are not arriving (the listening
 * connection is re-established after a restart of the database).
 */
export const CLIENT_CACHE_MS = 100;
const CLIENT_CACHE_MAX = 10_000;

const toClient = (r: Row): ClientRecord => ({
  id: r.id as string,
  name: r.name as string,
  secretHash: r.secret_hash as string | null,
  authMethod: r.auth_method as ClientRecord['authMethod'],
  grantTypes: r.grant_types as ClientRecord['grantTypes'],
  redirectUris: r.redirect_uris as string[],
  scope: r.scope as string,
  tokenFormat: r.token_format as ClientRecord['tokenFormat'],
  accessTtl: r.access_ttl as number | null,
  refreshTtl: r.refresh_ttl as number | null,
  createdAt: r.created_at as number,
});
const toUser = (r: Row): UserRecord => ({
  id: r.id as string, username: r.username as string, passwordHash: r.password_hash as string, createdAt: r.created_at as number,
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
  chain: r.chain as number,
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
    target: (kind === 'issuedBefore' ? { issuedBefore: Number(value) } : { [kind]: value }) as FeedTarget,
    until: r.until as number,
  };
};

export class PostgresStore implements Store {
  readonly sql: Sql;
  private readonly clients = new Map<string, { client: ClientRecord; at: number }>();
  private readonly clientsListeners = new Set<() => void>();
  private readonly feedListeners = new Set<() => void>();
  private readonly unlisten: Promise<Array<{ unlisten(): Promise<void> }>>;

  private constructor(sql: Sql) {
    this.sql = sql;
    const clientsChanged = () => {
      this.clients.clear();
      for (const listener of [...this.clientsListeners]) listener();
    };
    const feedAppended = () => {
      for (const listener of [...this.feedListeners]) listener();
    };
    // On every (re)connection of the listening connection, too: what changed meanwhile is unknown.
    this.unlisten = Promise.all([
      sql.listen('tessera_clients', (id) => { this.clients.delete(id); clientsChanged(); }, clientsChanged),
      sql.listen('tessera_feed', feedAppended, feedAppended),
    ]);
  }

  /** Connects and checks the schema: refuses a database `tessera migrate` has not brought to this version. */
  static async open(options: PostgresOptions): Promise<PostgresStore> {
    const sql = connect(options);
    try {
      const version = await guarded(() => schemaVersion(sql));
      if (version.current !== version.latest) throw new SchemaMismatch(version);
      const store = new PostgresStore(sql);
      await guarded(() => store.unlisten);
      return store;
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw err;
    }
  }

  /** One write: a transaction, rolled back for an Outcome (answered as such) or an error. */
  private async write<T>(fn: (tx: w.Tx) => Promise<T>): Promise<T> {
    return guarded(async () => {
      try {
        return (await this.sql.begin((tx) => transactionBody(fn(tx)))) as T;
      } catch (err) {
        if (err instanceof w.Outcome) return err.outcome as T;
        throw err;
      }
    });
  }

  private read<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return guarded(() => fn(this.sql));
  }

  onClientsChanged(listener: () => void): () => void {
    this.clientsListeners.add(listener);
    return () => this.clientsListeners.delete(listener);
  }

  /** A write that may append to the feed: this process's listeners hear of it at once (others by NOTIFY). */
  private async appending<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      for (const listener of [...this.feedListeners]) listener();
    }
  }

  onFeedAppended(listener: () => void): () => void {
    this.feedListeners.add(listener);
    return () => this.feedListeners.delete(listener);
  }

  createClient(client: ClientRecord, audit: AuditInput) {
    return this.write((tx) => w.createClient(tx, client, audit));
  }

  async getClient(id: string) {
    const cached = this.clients.get(id);
    if (cached && Date.now() - cached.at < CLIENT_CACHE_MS) return cached.client;
    const at = Date.now();
    const [r] = await this.read((sql) => sql`SELECT * FROM clients WHERE id = ${id}`);
    if (!r) {
      this.clients.delete(id);
      return undefined;
    }
    const client = toClient(r);
    // Shared by every caller until it is read again, so nobody may change it.
    Object.freeze(client.grantTypes);
    Object.freeze(client.redirectUris);
    if (this.clients.size >= CLIENT_CACHE_MAX) this.clients.clear();
    this.clients.set(id, { client: Object.freeze(client), at });
    return client;
  }

  async listClients() {
    return (await this.read((sql) => sql`SELECT * FROM clients ORDER BY created_at, id`)).map(toClient);
  }

  async setClientSecret(id: string, secretHash: string, audit: AuditInput[]) {
    try {
      return await this.write((tx) => w.setClientSecret(tx, id, secretHash, audit));
    } finally {
      this.clients.delete(id);
    }
  }

  async deleteClient(id: string, at: number, audit: AuditInput[]) {
    try {
      return await this.appending(this.write((tx) => w.deleteClient(tx, id, at, audit)));
    } finally {
      // After the commit: a read between the call and the commit may have cached the old row.
      this.clients.delete(id);
      for (const listener of [...this.clientsListeners]) listener();
    }
  }

  createUser(user: UserRecord, audit: AuditInput) {
    return this.write((tx) => w.createUser(tx, user, audit));
  }

  async getUser(id: string) {
    const [r] = await this.read((sql) => sql`SELECT * FROM users WHERE id = ${id}`);
    return r && toUser(r);
  }

  async getUserByName(username: string) {
    const [r] = await this.read((sql) => sql`SELECT * FROM users WHERE username = ${username}`);
    return r && toUser(r);
  }

  async listUsers() {
    return (await this.read((sql) => sql`SELECT * FROM users ORDER BY created_at, id`)).map(toUser);
  }

  deleteUser(id: string, at: number, audit: AuditInput[]) {
    return this.appending(this.write((tx) => w.deleteUser(tx, id, at, audit)));
  }

  setPassword(id: string, passwordHash: string, at: number, audit: AuditInput[]) {
    return this.appending(this.write((tx) => w.setPassword(tx, id, passwordHash, at, audit)));
  }

  async findGrant(clientId: string, userId: string | null) {
    const [r] = await this.read((sql) =>
      userId === null
        ? sql`SELECT * FROM grants WHERE client_id = ${clientId} AND user_id IS NULL AND revoked_at IS NULL`
        : sql`SELECT * FROM grants WHERE client_id = ${clientId} AND user_id = ${userId} AND revoked_at IS NULL`,
    );
    return r && toGrant(r);
  }

  async getGrant(id: string) {
    const [r] = await this.read((sql) => sql`SELECT * FROM grants WHERE id = ${id}`);
    return r && toGrant(r);
  }

  saveGrant(grant: GrantRecord, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.write((tx) => w.saveGrant(tx, grant, audit, checked));
  }

  createCode(code: CodeRecord, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.write((tx) => w.createCode(tx, code, audit, checked));
  }

  async getCode(id: string) {
    const [r] = await this.read((sql) => sql`SELECT * FROM codes WHERE id = ${id}`);
    return r && toCode(r);
  }

  redeemCode(codeId: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials) {
    return this.write((tx) => w.redeemCode(tx, codeId, at, tokens, audit, checked));
  }

  issueTokens(tokens: TokenRecord[], audit: AuditInput[], grant?: GrantRecord, checked?: CheckedCredentials) {
    return this.write((tx) => w.issueTokens(tx, tokens, audit, grant, checked));
  }

  async getToken(id: string) {
    const [r] = await this.read((sql) => sql`SELECT * FROM tokens WHERE id = ${id}`);
    return r && toToken(r);
  }

  async listTokens(filter: TokenFilter) {
    const rows = await this.read((sql) => {
      const conditions = [sql`true`];
      // Through the grants, which are indexed by user and client (tokens are not).
      if (filter.userId !== undefined) conditions.push(sql`grant_id IN (SELECT id FROM grants WHERE user_id = ${filter.userId})`);
      if (filter.clientId !== undefined) conditions.push(sql`grant_id IN (SELECT id FROM grants WHERE client_id = ${filter.clientId})`);
      if (filter.activeAt !== undefined) conditions.push(sql`revoked_at IS NULL AND consumed_at IS NULL AND expires_at > ${filter.activeAt}`);
      if (filter.after !== undefined) {
        const { issuedAt, id } = filter.after;
        conditions.push(sql`(issued_at > ${issuedAt} OR (issued_at = ${issuedAt} AND id > ${id}))`);
      }
      const where = conditions.reduce((a, b) => sql`${a} AND ${b}`);
      return sql`SELECT * FROM tokens WHERE ${where} ORDER BY issued_at, id LIMIT ${filter.limit ?? 1000}`;
    });
    return rows.map(toToken);
  }

  rotateRefresh(oldId: string, at: number, graceSince: number | null, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials) {
    return this.write((tx) => w.rotateRefresh(tx, oldId, at, graceSince, tokens, audit, checked));
  }

  revoke(target: RevocationTarget, at: number, audit: AuditInput[]) {
    return this.appending(this.write((tx) => w.revoke(tx, target, at, audit)));
  }

  async readFeed(after: number, limit: number) {
    return (await this.read((sql) => sql`SELECT * FROM revocation_feed WHERE seq > ${after} ORDER BY seq LIMIT ${limit}`)).map(toFeedEvent);
  }

  async feedHead() {
    const [r] = await this.read((sql) => sql`SELECT coalesce(max(seq), 0)::bigint AS seq FROM revocation_feed`);
    return r?.seq as number;
  }

  sweepExpired(before: number, limit: number) {
    return this.write((tx) => w.sweepExpired(tx, before, limit));
  }

  createSession(session: SessionRecord, checked?: CheckedCredentials) {
    return this.write((tx) => w.createSession(tx, session, checked));
  }

  async findSessionByHash(hash: string) {
    const [r] = await this.read((sql) => sql`SELECT * FROM sessions WHERE hash = ${hash}`);
    return r && { hash: r.hash as string, userId: r.user_id as string, createdAt: r.created_at as number, expiresAt: r.expires_at as number };
  }

  async deleteSession(hash: string) {
    await this.read((sql) => sql`DELETE FROM sessions WHERE hash = ${hash}`);
  }

  async listKeys() {
    return (await this.read((sql) => sql`SELECT * FROM keys ORDER BY created_at, kid`)).map(toKey);
  }

  addKey(key: KeyRecord, retireAt: number | null, audit: AuditInput[]) {
    return this.write((tx) => w.addKey(tx, key, retireAt, audit));
  }

  appendAudit(audit: AuditInput[]) {
    return this.write((tx) => w.appendAudit(tx, audit, Date.now()));
  }

  async readAudit(after: number, limit: number, since = 0) {
    return (await this.read((sql) => sql`SELECT * FROM audit WHERE seq > ${after} AND at >= ${since} ORDER BY seq LIMIT ${limit}`)).map(toAudit);
  }

  async auditHeads() {
    const rows = await this.read((sql) => sql`SELECT chain, records, seq, hash FROM audit_chains ORDER BY chain`);
    return rows.map((r) => ({ chain: r.chain as number, records: r.records as number, seq: r.seq as number, hash: r.hash as string }));
  }

  private closing: Promise<void> | undefined;
  close() {
    this.closing ??= (async () => {
      this.clientsListeners.clear();
      this.feedListeners.clear();
      await this.sql.end({ timeout: 5 });
    })();
    return this.closing;
  }
}

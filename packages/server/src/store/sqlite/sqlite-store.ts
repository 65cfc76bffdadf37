/**
 * The SQLite store: one file, WAL journal, prepared statements. Reads run on the store's
 * connection; writes (writes.ts) run on a writer (writer.ts), inline or on a thread of their own,
 * each one atomic in a savepoint, and the writes of one event-loop turn share a transaction and its
 * fsync (group-commit.ts). better-sqlite3 is synchronous, which suits SQLite (no thread hop per
 * read); the async methods keep the contract the same for network stores.
 *
 * Clients are read on every authenticated request and almost never change, so the store keeps
 * the ones it has read. Deleting one through this store drops it at once; a change by another
 * process (the CLI on the same file) moves clients_version (schema.ts), which this store polls.
 * Either way onClientsChanged's listeners hear of it (the revocation streams end for a client
 * that is gone or may no longer read the feed).
 */
import type Database from 'better-sqlite3';
import type {
  AdminTokenRecord, AuditInput, AuditQuery, CheckedCredentials, ClientChanges, ClientRecord, CodeRecord, DeliveryAttempt, DeliveryFilter, DeviceCodeRecord, DeviceDecision,
  GrantQuery, GrantRecord, InitialAccessTokenRecord, KeyRecord, PrincipalQuery, PushedRequestRecord, Readiness, RevocationTarget, SessionRecord, Store, TokenCensus, TokenFilter,
  TokenKind, TokenQuery, TokenRecord, TokenState, UserProfile, UserRecord, WebhookRecord,
} from '../types.js';
import { CensusTally } from '../types.js';
import {
  type Row, toAdminToken, toAudit, toClient, toCode, toDelivery, toDeviceCode, toFeedEvent, toGrant, toKey, toPushedRequest, toSession, toToken, toUser, toWebhook,
} from '../rows.js';
import { auditConditions, type Condition, grantConditions, pageSql, PER_MINUTE_SQL, principalPage, tokenConditions } from '../admin-sql.js';
import { Signal } from '../signal.js';
import { openConnection } from './connection.js';
import { migrations } from './schema.js';
import { InlineWriter, SocketWriter, ThreadWriter, type Writer } from './writer.js';

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** 'full' (default) fsyncs every commit; 'normal' survives a crash of the process, not of the machine. */
  synchronous?: 'full' | 'normal';
  /**
   * Where writes run: 'inline' (default) on this connection and thread; 'thread' on a worker
   * thread with its own connection, so commits do not hold up this thread (a file only);
   * `{ socket }` in a cluster worker, to the primary's writer thread over its socket (cluster.ts).
   */
  writer?: 'inline' | 'thread' | { socket: string };
  /** With writer 'thread': the thread also takes other processes' writes on a Unix socket at this path (ThreadOptions.socket). */
  writerSocket?: string;
  /** With a writer thread or socket: told once if it is lost (the thread died, the socket closed); every write fails from then on. */
  onWriterLost?: (error: Error) => void;
}


/** How often the client cache looks for changes made by other processes. */
const CLIENTS_POLL_MS = 100;
/** Past this many cached clients the cache starts over (a bound, not an LRU: clients are few). */
const CLIENT_CACHE_MAX = 10_000;
/** Rows countTokens reads between two turns of the event loop: a few milliseconds (bench:console: 100,000 tokens counted while the console's other calls stay fast). */
const COUNT_SLICE = 5_000;


export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly s;
  private readonly writer: Writer;
  private readonly clients = new Map<string, ClientRecord>();
  private clientsVersion: number;
  private readonly clientsPoll: NodeJS.Timeout;
  private readonly clientsChanged = new Signal();
  private readonly feedAppended = new Signal();
  private feedSeq: number;

  constructor(options: SqliteStoreOptions) {
    // openConnection creates the file and its directory, for the owner only.
    const synchronous = options.synchronous ?? 'full';
    const db = openConnection(options.path, synchronous);
    this.db = db;
    this.migrate();
    if (options.writer === 'thread' || typeof options.writer === 'object') {
      if (options.path === ':memory:') throw new Error('a writer thread needs a file: an in-memory database has one connection');
      // Every commit, by any worker of the cluster, is looked at here at once: the feed's streams
      // and the client cache need not wait for the poll.
      this.writer = options.writer === 'thread'
        ? new ThreadWriter({ path: options.path, synchronous, socket: options.writerSocket }, options.onWriterLost)
        : new SocketWriter(options.writer.socket, () => this.checkChanges(), options.onWriterLost);
    } else {
      this.writer = new InlineWriter(db);
    }

    const p = (sql: string) => db.prepare(sql);
    this.s = {
      getClient: p('SELECT * FROM clients WHERE id = ?'),
      clientsVersion: p('SELECT version FROM clients_version WHERE id = 1').pluck(),
      listClients: p('SELECT * FROM clients ORDER BY created_at, id'),
      getUser: p('SELECT * FROM users WHERE id = ?'),
      getUserByName: p('SELECT * FROM users WHERE username = ?'),
      listUsers: p('SELECT * FROM users ORDER BY created_at, id'),
      // Through grants_live_pair (schema.ts), which holds at most one live grant per pair; `user_id IS`
      // keeps a user whose id were '' apart from client credentials.
      findGrant: p("SELECT * FROM grants WHERE client_id = @clientId AND ifnull(user_id, '') = ifnull(@userId, '') AND user_id IS @userId AND revoked_at IS NULL"),
      getGrant: p('SELECT * FROM grants WHERE id = ?'),
      getCode: p('SELECT * FROM codes WHERE id = ?'),
      getPushed: p('SELECT * FROM pushed_requests WHERE hash = ? AND expires_at > ?'),
      getToken: p('SELECT * FROM tokens WHERE id = ?'),
      getDeviceCode: p('SELECT * FROM device_codes WHERE id = ?'),
      findDeviceCodeByUserCode: p('SELECT * FROM device_codes WHERE user_code_hash = ?'),
      findSession: p('SELECT * FROM sessions WHERE hash = ?'),
      listKeys: p('SELECT * FROM keys ORDER BY created_at, kid'),
      head: p('SELECT seq, hash FROM audit_head WHERE id = 1'),
      readAudit: p('SELECT * FROM audit WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?'),
      readFeed: p('SELECT * FROM revocation_feed WHERE seq > ? ORDER BY seq LIMIT ?'),
      feedHead: p('SELECT coalesce(max(seq), 0) FROM revocation_feed').pluck(),
      // One slice of the table by rowid (countTokens): the states of up to `limit` rows after `after`.
      // The states in TokenState's order (types.ts): revoked, rotated, expired, active.
      countTokens: p(`SELECT kind, client_id, CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN consumed_at IS NOT NULL THEN 'rotated'
          WHEN expires_at <= @at THEN 'expired' ELSE 'active' END AS state, count(*) AS n, max(rowid) AS last
        FROM (SELECT rowid, kind, client_id, expires_at, revoked_at, consumed_at FROM tokens WHERE rowid > @after ORDER BY rowid LIMIT @limit)
        GROUP BY kind, client_id, state`),
      schemaVersion: p('PRAGMA user_version').pluck(),
      // AUTOINCREMENT's counter: moves with every append, whatever the sweeper deletes.
      listWebhooks: p('SELECT * FROM webhooks ORDER BY created_at, id'),
      feedSeq: p("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'revocation_feed'), 0)").pluck(),
    };
    this.clientsVersion = this.s.clientsVersion.get() as number;
    this.feedSeq = this.s.feedSeq.get() as number;
    this.clientsPoll = setInterval(() => this.checkChanges(), CLIENTS_POLL_MS).unref();
  }

  /** Changes to clients or the feed made by another process: the CLI, or another cluster worker. */
  private checkChanges(): void {
    if (!this.db.open) return;
    this.checkClients();
    this.checkFeed();
  }

  /** Resolves once the writer thread takes writes (on its socket too, with writerSocket). */
  async writerReady(): Promise<void> {
    if (this.writer instanceof ThreadWriter) await this.writer.ready;
  }

  /** Feed events appended by another process (the CLI) since the last look. */
  private checkFeed(): void {
    const seq = this.s.feedSeq.get() as number;
    if (seq === this.feedSeq) return;
    this.feedSeq = seq;
    this.feedAppended.fire();
  }

  onFeedAppended(listener: () => void): () => void {
    return this.feedAppended.on(listener);
  }

  private checkClients(): void {
    const version = this.s.clientsVersion.get() as number;
    if (version === this.clientsVersion) return;
    this.clientsVersion = version;
    this.clients.clear();
    this.clientsChanged.fire();
  }

  onClientsChanged(listener: () => void): () => void {
    return this.clientsChanged.on(listener);
  }

  private migrate() {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < migrations.length; v++) {
      this.db.transaction(() => {
        // Another process opening the file at the same time may have applied it while we waited.
        if ((this.db.pragma('user_version', { simple: true }) as number) > v) return;
        this.db.exec(migrations[v] as string);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  createClient(client: ClientRecord, audit: AuditInput, initialToken?: { hash: string; at: number }) {
    return this.writer.write('createClient', client, audit, initialToken);
  }

  async getClient(id: string) {
    const cached = this.clients.get(id);
    if (cached) return cached;
    const r = this.s.getClient.get(id) as Row | undefined;
    if (!r) return undefined;
    const client = toClient(r);
    // Shared by every caller from now on, so nobody may change it.
    Object.freeze(client.grantTypes);
    Object.freeze(client.redirectUris);
    if (this.clients.size >= CLIENT_CACHE_MAX) this.clients.clear();
    this.clients.set(id, Object.freeze(client));
    return client;
  }

  async listClients() {
    return (this.s.listClients.all() as Row[]).map(toClient);
  }

  async setClientSecret(id: string, secretHash: string, audit: AuditInput[], previousUntil?: number, sealedSecret?: string) {
    try {
      return await this.writer.write('setClientSecret', id, secretHash, audit, previousUntil, sealedSecret);
    } finally {
      this.clients.delete(id);
    }
  }

  async updateClient(id: string, changes: ClientChanges, audit: AuditInput[]) {
    try {
      return await this.writer.write('updateClient', id, changes, audit);
    } finally {
      // After the commit: a read between the call and the commit may have cached the old row.
      this.clients.delete(id);
      this.clientsChanged.fire();
    }
  }

  recordAssertion(clientId: string, jti: string, expiresAt: number) {
    return this.writer.write('recordAssertion', clientId, jti, expiresAt);
  }

  recordDpopProof(jkt: string, jti: string, expiresAt: number) {
    return this.writer.write('recordDpopProof', jkt, jti, expiresAt);
  }

  serverSecret(name: string, candidate: string) {
    return this.writer.write('serverSecret', name, candidate);
  }

  async deleteClient(id: string, at: number, audit: AuditInput[]) {
    try {
      return await this.feedAppended.after(this.writer.write('deleteClient', id, at, audit));
    } finally {
      // After the commit: a read between the call and the commit may have cached the old row.
      this.clients.delete(id);
      this.clientsChanged.fire();
    }
  }

  createUser(user: UserRecord, audit: AuditInput) {
    return this.writer.write('createUser', user, audit);
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

  setUserProfile(id: string, profile: UserProfile, audit: AuditInput[]) {
    return this.writer.write('setUserProfile', id, profile, audit);
  }

  deleteUser(id: string, at: number, audit: AuditInput[]) {
    return this.feedAppended.after(this.writer.write('deleteUser', id, at, audit));
  }

  setPassword(id: string, passwordHash: string, at: number, audit: AuditInput[]) {
    return this.feedAppended.after(this.writer.write('setPassword', id, passwordHash, at, audit));
  }

  async findGrant(clientId: string, userId: string | null) {
    const r = this.s.findGrant.get({ clientId, userId }) as Row | undefined;
    return r && toGrant(r);
  }

  async getGrant(id: string) {
    const r = this.s.getGrant.get(id) as Row | undefined;
    return r && toGrant(r);
  }

  saveGrant(grant: GrantRecord, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.writer.write('saveGrant', grant, audit, checked);
  }

  createCode(code: CodeRecord, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.writer.write('createCode', code, audit, checked);
  }

  async getCode(id: string) {
    const r = this.s.getCode.get(id) as Row | undefined;
    return r && toCode(r);
  }

  createPushedRequest(request: PushedRequestRecord, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.writer.write('createPushedRequest', request, audit, checked);
  }

  async getPushedRequest(hash: string, at: number) {
    const r = this.s.getPushed.get(hash, at) as Row | undefined;
    return r && toPushedRequest(r);
  }

  createInitialAccessToken(token: InitialAccessTokenRecord, audit: AuditInput[]) {
    return this.writer.write('createInitialAccessToken', token, audit);
  }

  consumePushedRequest(hash: string, at: number) {
    return this.writer.write('consumePushedRequest', hash, at);
  }

  redeemCode(codeId: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials) {
    return this.writer.write('redeemCode', codeId, at, tokens, audit, checked);
  }

  createDeviceCode(code: DeviceCodeRecord, audit: AuditInput[]) {
    return this.writer.write('createDeviceCode', code, audit);
  }

  async getDeviceCode(id: string) {
    const r = this.s.getDeviceCode.get(id) as Row | undefined;
    return r && toDeviceCode(r);
  }

  async findDeviceCodeByUserCode(userCodeHash: string) {
    const r = this.s.findDeviceCodeByUserCode.get(userCodeHash) as Row | undefined;
    return r && toDeviceCode(r);
  }

  recordDevicePoll(id: string, previousPoll: number | null, at: number, interval: number) {
    return this.writer.write('recordDevicePoll', id, previousPoll, at, interval);
  }

  decideDeviceCode(id: string, decision: DeviceDecision, at: number, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.writer.write('decideDeviceCode', id, decision, at, audit, checked);
  }

  redeemDeviceCode(id: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials) {
    return this.writer.write('redeemDeviceCode', id, at, tokens, audit, checked);
  }

  issueTokens(tokens: TokenRecord[], audit: AuditInput[], grant?: GrantRecord, checked?: CheckedCredentials) {
    return this.writer.write('issueTokens', tokens, audit, grant, checked);
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
    // A client's exchanged tokens (RFC 8693) may lie on other clients' grants: by their own partial index.
    if (filter.clientId !== undefined) {
      where.push('(grant_id IN (SELECT id FROM grants WHERE client_id = ?) OR (exchanged_from IS NOT NULL AND client_id = ?))');
      args.push(filter.clientId, filter.clientId);
    }
    if (filter.activeAt !== undefined) {
      where.push('revoked_at IS NULL AND consumed_at IS NULL AND expires_at > ?');
      args.push(filter.activeAt);
    }
    if (filter.after !== undefined) {
      where.push('(issued_at > ? OR (issued_at = ? AND id > ?))');
      args.push(filter.after.issuedAt, filter.after.issuedAt, filter.after.id);
    }
    const sql = `SELECT * FROM tokens ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY issued_at, id LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1000) as Row[]).map(toToken);
  }

  createAdminToken(token: AdminTokenRecord, audit: AuditInput[]) {
    return this.writer.write('createAdminToken', token, audit);
  }

  async getAdminToken(id: string) {
    const r = this.db.prepare('SELECT * FROM admin_tokens WHERE id = ?').get(id) as Row | undefined;
    return r && toAdminToken(r);
  }

  async listAdminTokens() {
    return (this.db.prepare('SELECT * FROM admin_tokens ORDER BY created_at, id').all() as Row[]).map(toAdminToken);
  }

  revokeAdminToken(id: string, at: number, audit: AuditInput[]) {
    return this.writer.write('revokeAdminToken', id, at, audit);
  }

  private page(query: Condition): Row[] {
    return this.db.prepare(query.sql).all(...query.args) as Row[];
  }

  pageClients(query: PrincipalQuery) {
    return principalPage((q) => this.page(q), 'clients', query, toClient);
  }

  pageUsers(query: PrincipalQuery) {
    return principalPage((q) => this.page(q), 'users', query, toUser);
  }

  async pageTokens(query: TokenQuery) {
    return this.page(pageSql('tokens', 'id', tokenConditions(query), query.limit)).map(toToken);
  }

  async pageGrants(query: GrantQuery) {
    return this.page(pageSql('grants', 'id', grantConditions(query), query.limit)).map(toGrant);
  }

  async queryAudit(query: AuditQuery) {
    return this.page(pageSql('audit', 'seq', auditConditions(query), query.limit)).map(toAudit);
  }

  async auditPerMinute(since: number) {
    return this.db.prepare(PER_MINUTE_SQL).all(since) as Array<{ minute: number; events: number }>;
  }

  rotateRefresh(oldId: string, at: number, graceSince: number | null, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials) {
    return this.writer.write('rotateRefresh', oldId, at, graceSince, tokens, audit, checked);
  }

  revoke(target: RevocationTarget, at: number, audit: AuditInput[]) {
    return this.feedAppended.after(this.writer.write('revoke', target, at, audit));
  }

  async readFeed(after: number, limit: number) {
    return (this.s.readFeed.all(after, limit) as Row[]).map(toFeedEvent);
  }

  async feedHead() {
    return this.s.feedHead.get() as number;
  }

  sweepExpired(before: number, limit: number) {
    return this.writer.write('sweepExpired', before, limit);
  }

  createWebhook(webhook: WebhookRecord, audit: AuditInput[]) {
    return this.writer.write('createWebhook', webhook, audit);
  }

  async listWebhooks() {
    return (this.s.listWebhooks.all() as Row[]).map(toWebhook);
  }

  deleteWebhook(id: string, audit: AuditInput[]) {
    return this.writer.write('deleteWebhook', id, audit);
  }

  async listDeliveries(filter: DeliveryFilter) {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.webhookId !== undefined) { where.push('webhook_id = ?'); args.push(filter.webhookId); }
    if (filter.status !== undefined) { where.push('status = ?'); args.push(filter.status); }
    if (filter.before !== undefined) { where.push('(at, id) < (?, ?)'); args.push(filter.before.at, filter.before.id); }
    const sql = `SELECT * FROM webhook_deliveries ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 100) as Row[]).map(toDelivery);
  }

  async countPendingDeliveries() {
    return this.db.prepare("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'").pluck().get() as number;
  }

  claimDeliveries(at: number, limit: number, leaseUntil: number) {
    return this.writer.write('claimDeliveries', at, limit, leaseUntil);
  }

  recordDelivery(id: string, attempt: DeliveryAttempt, audit: AuditInput[]) {
    return this.writer.write('recordDelivery', id, attempt, audit);
  }

  createSession(session: SessionRecord, checked?: CheckedCredentials) {
    return this.writer.write('createSession', session, checked);
  }

  async findSessionByHash(hash: string) {
    const r = this.s.findSession.get(hash) as Row | undefined;
    return r && toSession(r);
  }

  endSession(hash: string, audit: AuditInput[]) {
    return this.writer.write('endSession', hash, audit);
  }

  deleteSession(hash: string) {
    return this.writer.write('deleteSession', hash);
  }

  async listKeys() {
    return (this.s.listKeys.all() as Row[]).map(toKey);
  }

  addKey(key: KeyRecord, retireAt: number | null, audit: AuditInput[]) {
    return this.writer.write('addKey', key, retireAt, audit);
  }

  appendAudit(audit: AuditInput[]) {
    return this.writer.write('appendAudit', audit);
  }

  async readAudit(after: number, limit: number, since = 0) {
    return (this.s.readAudit.all(after, since, limit) as Row[]).map(toAudit);
  }

  /** One chain: the single writer orders every append. */
  async auditHeads() {
    const { seq, hash } = this.s.head.get() as { seq: number; hash: string };
    return [{ chain: 0, records: seq, seq, hash }];
  }

  /**
   * Counted in slices of COUNT_SLICE rows by rowid, yielding to the event loop between them: a
   * table of millions of rows never holds up requests for the whole count (the slices are not one
   * snapshot; a gauge does not need one).
   */
  async countTokens(at: number): Promise<TokenCensus> {
    const tally = new CensusTally();
    for (let after = 0; ;) {
      const rows = this.s.countTokens.all({ at, after, limit: COUNT_SLICE }) as Array<{ kind: TokenKind; client_id: string; state: TokenState; n: number; last: number }>;
      let seen = 0;
      for (const r of rows) {
        tally.add(r.kind, r.state, r.client_id, r.n);
        seen += r.n;
        after = Math.max(after, r.last);
      }
      if (seen < COUNT_SLICE) return tally.census();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async readiness(): Promise<Readiness> {
    let version: number;
    try {
      version = this.s.schemaVersion.get() as number;
      this.s.head.get();
    } catch {
      return { ready: false, check: 'database', reason: 'the database does not answer a read' };
    }
    // This store migrates when it opens: another version of Tessera changed the file since.
    if (version !== migrations.length) {
      return { ready: false, check: 'schema', reason: `the database schema is at version ${version}; this Tessera needs version ${migrations.length}` };
    }
    try {
      await this.writer.write('ping');
    } catch {
      return { ready: false, check: 'writer', reason: 'the writer does not commit' };
    }
    return { ready: true };
  }

  async close() {
    if (!this.db.open) return;
    clearInterval(this.clientsPoll);
    this.clientsChanged.clear();
    this.feedAppended.clear();
    await this.writer.close();
    this.db.close();
  }
}

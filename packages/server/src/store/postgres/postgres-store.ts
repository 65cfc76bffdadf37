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
import { OAuthError } from '@tessera/core';
import type {
  AdminTokenRecord, AuditInput, AuditQuery, CheckedCredentials, ClaimResult, ClientChanges, ClientRecord, CodeRecord, DeliveryAttempt, DeliveryFilter, DeviceCodeRecord, DeviceDecision,
  GrantQuery, GrantRecord, InitialAccessTokenRecord, KeyRecord, PrincipalQuery, PushedRequestRecord, Readiness, RevocationTarget, SessionRecord, Store, TokenCensus, TokenFilter,
  TokenKind, TokenQuery, TokenRecord, TokenState, UserProfile, UserRecord, WebhookRecord,
} from '../types.js';
import { CensusTally } from '../types.js';
import {
  type Row, toAdminToken, toAudit, toClient, toCode, toDelivery, toDeviceCode, toFeedEvent, toGrant, toKey, toPushedRequest, toSession, toToken, toUser, toWebhook,
} from '../rows.js';
import { auditConditions, type Condition, grantConditions, pageSql, PER_MINUTE_SQL, principalPage, tokenConditions } from '../admin-sql.js';
import { connect, firstAnswer, guarded, type PostgresOptions, type Sql, storable, transactionBody } from './connection.js';
import { Signal } from '../signal.js';
import { WriteBatcher } from './write-batch.js';
import { ReadBatcher } from './read-batch.js';
import { SchemaMismatch, type SchemaVersion, schemaVersion } from './migrate.js';
import * as w from './writes.js';


/**
 * How long a cached client is used without reading it again. NOTIFY drops a changed client at
 * once; this bounds how stale one can be while notifications are not arriving (the listening
 * connection is re-established after a restart of the database).
 */
export const CLIENT_CACHE_MS = 100;
const CLIENT_CACHE_MAX = 10_000;


export class PostgresStore implements Store {
  readonly sql: Sql;
  private readonly clients = new Map<string, { client: ClientRecord; at: number }>();
  /** Moves on every change of a client heard of: a read that started before one is not cached. */
  private clientsGeneration = 0;
  private readonly clientsSignal = new Signal();
  private readonly feedAppended = new Signal();
  private readonly unlisten: Promise<Array<{ unlisten(): Promise<void> }>>;

  private readonly unavailable = (err: unknown) => err instanceof OAuthError && err.error === 'temporarily_unavailable';

  /** Issuances on existing grants from one turn: one call, one commit (write-batch.ts). */
  private readonly issuances = new WriteBatcher<w.BatchItem, Awaited<ReturnType<typeof w.issueTokens>>>({
    batch: (items) => this.read((sql) => w.issueBatch(sql, items)),
    single: ({ tokens, audit, checked }) => this.settled(tokens, 'issued', (sql) => w.issueTokens(sql, tokens, audit, undefined, checked)),
    unavailable: this.unavailable,
    stored: (token) => this.stored(token),
    done: 'issued',
  });

  /** Refresh rotations from one turn: one call, one commit, taking their tokens' rows in id order. */
  private readonly rotations = new WriteBatcher<w.RotationItem, ClaimResult>({
    batch: (items) => this.read((sql) => w.rotateBatch(sql, items)),
    single: (item) => this.settled(item.tokens, 'claimed', (sql) => w.rotateRefresh(sql, item)),
    unavailable: this.unavailable,
    stored: (token) => this.stored(token),
    done: 'claimed',
    order: (a, b) => (a.oldId < b.oldId ? -1 : a.oldId > b.oldId ? 1 : 0),
  });

  /** The reads on the request path, by primary key: one statement for each turn's ids (read-batch.ts). */
  private readonly tokens = new ReadBatcher((ids) => this.read((sql) => sql`SELECT * FROM tokens WHERE id = ANY(${ids})`), toToken);
  private readonly grants = new ReadBatcher((ids) => this.read((sql) => sql`SELECT * FROM grants WHERE id = ANY(${ids})`), toGrant);
  private readonly users = new ReadBatcher((ids) => this.read((sql) => sql`SELECT * FROM users WHERE id = ANY(${ids})`), toUser);

  private constructor(sql: Sql) {
    this.sql = sql;
    const clientsChanged = () => this.clientsChanged();
    const feedAppended = () => this.feedAppended.fire();
    // On every (re)connection of the listening connection, too: what changed meanwhile is unknown.
    this.unlisten = Promise.all([
      sql.listen('tessera_clients', clientsChanged, clientsChanged),
      sql.listen('tessera_feed', feedAppended, feedAppended),
    ]);
  }

  /** A client changed or was deleted, here or elsewhere: drop the cache, tell the listeners. */
  private clientsChanged(): void {
    this.clientsGeneration++;
    this.clients.clear();
    this.clientsSignal.fire();
  }

  /** Connects and checks the schema: refuses a database `tessera migrate` has not brought to this version. */
  static async open(options: PostgresOptions): Promise<PostgresStore> {
    const sql = connect(options);
    try {
      const version = await firstAnswer(guarded(() => schemaVersion(sql)));
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

  /** One statement, in its own transaction: a read, or a write done by one SQL function. */
  private read<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return guarded(() => fn(this.sql));
  }

  /**
   * A write that stores `tokens`, whose connection broke or whose database went away: it may have
   * committed before the answer was lost (a rotation whose retry would then look like reuse). Its
   * first token tells: stored, the write happened (`done`); not stored, it did not (a server
   * that restarted or killed the session rolled it back), and the caller gets the 503.
   */
  private async settled<T extends string>(tokens: TokenRecord[], done: T, write: (sql: Sql) => Promise<T>): Promise<T> {
    try {
      return await this.read(write);
    } catch (err) {
      const first = tokens[0];
      if (!(err instanceof OAuthError) || err.error !== 'temporarily_unavailable' || first === undefined) throw err;
      if (await this.stored(first).catch(() => false)) return done;
      throw err;
    }
  }

  /** Whether the token (a write's first) is stored, hash and all. */
  private async stored(token: TokenRecord): Promise<boolean> {
    return (await this.getToken(token.id))?.hash === token.hash;
  }

  onClientsChanged(listener: () => void): () => void {
    return this.clientsSignal.on(listener);
  }

  onFeedAppended(listener: () => void): () => void {
    return this.feedAppended.on(listener);
  }

  createClient(client: ClientRecord, audit: AuditInput, initialToken?: { hash: string; at: number }) {
    return this.write((tx) => w.createClient(tx, client, audit, initialToken));
  }

  async getClient(id: string) {
    const cached = this.clients.get(id);
    if (cached && Date.now() - cached.at < CLIENT_CACHE_MS) return cached.client;
    if (!storable(id)) return undefined;
    const [at, generation] = [Date.now(), this.clientsGeneration];
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
    // A change heard of while this read ran may be newer than the row it read.
    if (generation === this.clientsGeneration) this.clients.set(id, { client: Object.freeze(client), at });
    return client;
  }

  async listClients() {
    return (await this.read((sql) => sql`SELECT * FROM clients ORDER BY created_at, id`)).map(toClient);
  }

  async setClientSecret(id: string, secretHash: string, audit: AuditInput[], previousUntil?: number, sealedSecret?: string) {
    try {
      return await this.write((tx) => w.setClientSecret(tx, id, secretHash, audit, previousUntil, sealedSecret));
    } finally {
      // After the commit (NOTIFY tells the other instances).
      this.clientsChanged();
    }
  }

  async updateClient(id: string, changes: ClientChanges, audit: AuditInput[]) {
    try {
      return await this.write((tx) => w.updateClient(tx, id, changes, audit));
    } finally {
      // After the commit (NOTIFY tells the other instances).
      this.clientsChanged();
    }
  }

  async recordAssertion(clientId: string, jti: string, expiresAt: number): Promise<'recorded' | 'replayed'> {
    if (!storable(clientId) || !storable(jti)) return 'replayed';
    const rows = await this.read((sql) => sql`INSERT INTO client_assertions (client_id, jti, expires_at) VALUES (${clientId}, ${jti}, ${expiresAt})
      ON CONFLICT DO NOTHING RETURNING 1`);
    return rows.length === 1 ? 'recorded' : 'replayed';
  }

  async recordDpopProof(jkt: string, jti: string, expiresAt: number): Promise<'recorded' | 'replayed'> {
    // A jti PostgreSQL cannot hold (a NUL) is refused as a replay would be.
    if (!storable(jkt) || !storable(jti)) return 'replayed';
    const rows = await this.read((sql) => sql`INSERT INTO dpop_proofs (jkt, jti, expires_at) VALUES (${jkt}, ${jti}, ${expiresAt})
      ON CONFLICT DO NOTHING RETURNING 1`);
    return rows.length === 1 ? 'recorded' : 'replayed';
  }

  serverSecret(name: string, candidate: string) {
    return this.write((tx) => w.serverSecret(tx, name, candidate));
  }

  async deleteClient(id: string, at: number, audit: AuditInput[]) {
    try {
      return await this.feedAppended.after(this.write((tx) => w.deleteClient(tx, id, at, audit)));
    } finally {
      // After the commit (NOTIFY tells the other instances).
      this.clientsChanged();
    }
  }

  createUser(user: UserRecord, audit: AuditInput) {
    return this.write((tx) => w.createUser(tx, user, audit));
  }

  async getUser(id: string) {
    return storable(id) ? this.users.get(id) : undefined;
  }

  async getUserByName(username: string) {
    if (!storable(username)) return undefined;
    const [r] = await this.read((sql) => sql`SELECT * FROM users WHERE username = ${username}`);
    return r && toUser(r);
  }

  async listUsers() {
    return (await this.read((sql) => sql`SELECT * FROM users ORDER BY created_at, id`)).map(toUser);
  }

  setUserProfile(id: string, profile: UserProfile, audit: AuditInput[]) {
    return this.write((tx) => w.setUserProfile(tx, id, profile, audit));
  }

  deleteUser(id: string, at: number, audit: AuditInput[]) {
    return this.feedAppended.after(this.write((tx) => w.deleteUser(tx, id, at, audit)));
  }

  setPassword(id: string, passwordHash: string, at: number, audit: AuditInput[]) {
    return this.feedAppended.after(this.write((tx) => w.setPassword(tx, id, passwordHash, at, audit)));
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
    return storable(id) ? this.grants.get(id) : undefined;
  }

  saveGrant(grant: GrantRecord, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.write((tx) => w.saveGrant(tx, grant, audit, checked));
  }

  createCode(code: CodeRecord, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.write((tx) => w.createCode(tx, code, audit, checked));
  }

  async getCode(id: string) {
    if (!storable(id)) return undefined;
    const [r] = await this.read((sql) => sql`SELECT * FROM codes WHERE id = ${id}`);
    return r && toCode(r);
  }

  createPushedRequest(request: PushedRequestRecord, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.write((tx) => w.createPushedRequest(tx, request, audit, checked));
  }

  async getPushedRequest(hash: string, at: number) {
    if (!storable(hash)) return undefined;
    const [r] = await this.read((sql) => sql`SELECT * FROM pushed_requests WHERE hash = ${hash} AND expires_at > ${at}`);
    return r && toPushedRequest(r);
  }

  createInitialAccessToken(token: InitialAccessTokenRecord, audit: AuditInput[]) {
    return this.write((tx) => w.createInitialAccessToken(tx, token, audit));
  }

  async consumePushedRequest(hash: string, at: number) {
    if (!storable(hash)) return false;
    // One statement: of two concurrent deletes, the second waits on the row, then finds it gone.
    return (await this.read((sql) => sql`DELETE FROM pushed_requests WHERE hash = ${hash} AND expires_at > ${at}`)).count === 1;
  }

  redeemCode(codeId: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials) {
    return this.settled(tokens, 'claimed', (sql) => w.redeemCode(sql, codeId, at, tokens, audit, checked));
  }

  createDeviceCode(code: DeviceCodeRecord, audit: AuditInput[]) {
    return this.write((tx) => w.createDeviceCode(tx, code, audit));
  }

  async getDeviceCode(id: string) {
    if (!storable(id)) return undefined;
    const [r] = await this.read((sql) => sql`SELECT * FROM device_codes WHERE id = ${id}`);
    return r && toDeviceCode(r);
  }

  async findDeviceCodeByUserCode(userCodeHash: string) {
    if (!storable(userCodeHash)) return undefined;
    const [r] = await this.read((sql) => sql`SELECT * FROM device_codes WHERE user_code_hash = ${userCodeHash}`);
    return r && toDeviceCode(r);
  }

  recordDevicePoll(id: string, previousPoll: number | null, at: number, interval: number) {
    return this.read((sql) => w.recordDevicePoll(sql, id, previousPoll, at, interval));
  }

  decideDeviceCode(id: string, decision: DeviceDecision, at: number, audit: AuditInput[], checked?: CheckedCredentials) {
    return this.write((tx) => w.decideDeviceCode(tx, id, decision, at, audit, checked));
  }

  redeemDeviceCode(id: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials) {
    return this.settled(tokens, 'claimed', (sql) => w.redeemDeviceCode(sql, id, at, tokens, audit, checked));
  }

  issueTokens(tokens: TokenRecord[], audit: AuditInput[], grant?: GrantRecord, checked?: CheckedCredentials) {
    // An exchanged token is written alone, checking its subject token in the same transaction.
    if (tokens.some((t) => t.exchangedFrom !== null)) return this.write((tx) => w.issueExchanged(tx, tokens, audit, grant, checked));
    // A new or widened grant is written alone (its outcomes include 'conflict'); tokens on an
    // existing grant join this turn's batch.
    if (grant) return this.settled(tokens, 'issued', (sql) => w.issueTokens(sql, tokens, audit, grant, checked));
    return this.issuances.submit({ tokens, audit, checked });
  }

  async getToken(id: string) {
    return storable(id) ? this.tokens.get(id) : undefined;
  }

  async listTokens(filter: TokenFilter) {
    const rows = await this.read((sql) => {
      const conditions = [sql`true`];
      // Through the grants, which are indexed by user and client (tokens are not).
      if (filter.userId !== undefined) conditions.push(sql`grant_id IN (SELECT id FROM grants WHERE user_id = ${filter.userId})`);
      // A client's exchanged tokens (RFC 8693) may lie on other clients' grants: by their own partial index.
      if (filter.clientId !== undefined) {
        conditions.push(sql`(grant_id IN (SELECT id FROM grants WHERE client_id = ${filter.clientId}) OR (exchanged_from IS NOT NULL AND client_id = ${filter.clientId}))`);
      }
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

  createAdminToken(token: AdminTokenRecord, audit: AuditInput[]) {
    return this.write((tx) => w.createAdminToken(tx, token, audit));
  }

  async getAdminToken(id: string) {
    if (!storable(id)) return undefined;
    const [r] = await this.read((sql) => sql`SELECT * FROM admin_tokens WHERE id = ${id}`);
    return r && toAdminToken(r);
  }

  async listAdminTokens() {
    return (await this.read((sql) => sql`SELECT * FROM admin_tokens ORDER BY created_at, id`)).map(toAdminToken);
  }

  revokeAdminToken(id: string, at: number, audit: AuditInput[]) {
    return this.write((tx) => w.revokeAdminToken(tx, id, at, audit));
  }

  /** A query of admin-sql.ts, its `?` placeholders numbered for PostgreSQL; a NUL in an argument matches nothing. */
  private async page(query: Condition): Promise<Row[]> {
    if (query.args.some((a) => typeof a === 'string' && !storable(a))) return [];
    let n = 0;
    const text = query.sql.replace(/\?/g, () => `$${++n}`);
    return (await this.read((sql) => sql.unsafe(text, query.args))) as Row[];
  }

  pageClients(query: PrincipalQuery) {
    return principalPage((q) => this.page(q), 'clients', query, toClient);
  }

  pageUsers(query: PrincipalQuery) {
    return principalPage((q) => this.page(q), 'users', query, toUser);
  }

  async pageTokens(query: TokenQuery) {
    return (await this.page(pageSql('tokens', 'id', tokenConditions(query), query.limit))).map(toToken);
  }

  async pageGrants(query: GrantQuery) {
    return (await this.page(pageSql('grants', 'id', grantConditions(query), query.limit))).map(toGrant);
  }

  async queryAudit(query: AuditQuery) {
    return (await this.page(pageSql('audit', 'seq', auditConditions(query), query.limit))).map(toAudit);
  }

  async auditPerMinute(since: number) {
    return (await this.page({ sql: PER_MINUTE_SQL, args: [since] })).map((r) => ({ minute: Number(r.minute), events: Number(r.events) }));
  }

  rotateRefresh(oldId: string, at: number, graceSince: number | null, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials) {
    return this.rotations.submit({ oldId, at, graceSince, tokens, audit, checked });
  }

  revoke(target: RevocationTarget, at: number, audit: AuditInput[]) {
    // A token or a family (the request path): one statement; the others: a transaction from here.
    const done = 'token' in target || 'family' in target
      ? this.read((sql) => w.revokeOne(sql, target, at, audit))
      : this.write((tx) => w.revoke(tx, target, at, audit));
    return this.feedAppended.after(done);
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

  createWebhook(webhook: WebhookRecord, audit: AuditInput[]) {
    return this.write((tx) => w.createWebhook(tx, webhook, audit));
  }

  async listWebhooks() {
    return (await this.read((sql) => sql`SELECT * FROM webhooks ORDER BY created_at, id`)).map(toWebhook);
  }

  deleteWebhook(id: string, audit: AuditInput[]) {
    return this.write((tx) => w.deleteWebhook(tx, id, audit));
  }

  async listDeliveries(filter: DeliveryFilter) {
    // A NUL (which PostgreSQL text cannot hold) matches nothing, as in page().
    if ([filter.webhookId, filter.before?.id].some((v) => v !== undefined && !storable(v))) return [];
    const rows = await this.read((sql) => {
      const conditions = [sql`true`];
      if (filter.webhookId !== undefined) conditions.push(sql`webhook_id = ${filter.webhookId}`);
      if (filter.status !== undefined) conditions.push(sql`status = ${filter.status}`);
      if (filter.before !== undefined) conditions.push(sql`(at, id) < (${filter.before.at}, ${filter.before.id})`);
      const where = conditions.reduce((a, b) => sql`${a} AND ${b}`);
      return sql`SELECT * FROM webhook_deliveries WHERE ${where} ORDER BY at DESC, id DESC LIMIT ${filter.limit ?? 100}`;
    });
    return rows.map(toDelivery);
  }

  async countPendingDeliveries() {
    const [row] = await this.read((sql) => sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'`);
    return row?.n as number;
  }

  claimDeliveries(at: number, limit: number, leaseUntil: number) {
    return this.read((sql) => w.claimDeliveries(sql, at, limit, leaseUntil));
  }

  recordDelivery(id: string, attempt: DeliveryAttempt, audit: AuditInput[]) {
    return this.write((tx) => w.recordDelivery(tx, id, attempt, audit));
  }

  /** One statement, running on the database server: nothing waits on this process meanwhile. */
  async countTokens(at: number): Promise<TokenCensus> {
    const rows = await this.read((sql) => sql`
      SELECT kind, client_id, CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN consumed_at IS NOT NULL THEN 'rotated'
        WHEN expires_at <= ${at} THEN 'expired' ELSE 'active' END AS state, count(*)::int AS n
      FROM tokens GROUP BY 1, 2, 3`);
    const tally = new CensusTally();
    for (const r of rows) tally.add(r.kind as TokenKind, r.state as TokenState, r.client_id as string, r.n as number);
    return tally.census();
  }

  async readiness(): Promise<Readiness> {
    let version: SchemaVersion;
    try {
      version = await this.read((sql) => schemaVersion(sql));
    } catch {
      return { ready: false, check: 'database', reason: 'the database does not answer a read' };
    }
    if (version.current !== version.latest) return { ready: false, check: 'schema', reason: new SchemaMismatch(version).message };
    try {
      // A standby answers reads but refuses every write.
      const [row] = await this.write((tx) => tx`SELECT pg_is_in_recovery() AS standby`);
      if (row?.standby) return { ready: false, check: 'writer', reason: 'the database is a read-only standby' };
    } catch {
      return { ready: false, check: 'writer', reason: 'the pool does not run a transaction' };
    }
    return { ready: true };
  }

  createSession(session: SessionRecord, checked?: CheckedCredentials) {
    return this.write((tx) => w.createSession(tx, session, checked));
  }

  async findSessionByHash(hash: string) {
    const [r] = await this.read((sql) => sql`SELECT * FROM sessions WHERE hash = ${hash}`);
    return r && toSession(r);
  }

  endSession(hash: string, audit: AuditInput[]) {
    return this.write((tx) => w.endSession(tx, hash, audit));
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
      this.clientsSignal.clear();
      this.feedAppended.clear();
      await this.sql.end({ timeout: 5 });
    })();
    return this.closing;
  }
}

/**
 * Revocation streams as a resource (issue 9, defect 6): a batch of events costs one store read
 * however many streams are open, a client holds a bounded number of streams, and a stream ends
 * when its client is deleted or may no longer read the feed, whichever process made the change.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHandler, createNodeServer, drain, defaults, SqliteStore, type Store, tesseraOnStore, type Tessera } from '@tessera/server';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useServer } from './flows.js';
import { accessToken, feedHead, GUARD_SCOPE } from './guard-kit.js';
import { openStream, type OpenStream } from './sse-client.mjs';

const bin = join(import.meta.dirname, '..', 'packages', 'server', 'bin', 'tessera.js');
const cli = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args], { env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } });

const connected = (s: OpenStream) => vi.waitFor(() => expect(s.comments).toContain('connected'), { timeout: 5000, interval: 5 });

describe('revocation streams: who may keep one open', () => {
  const h = useServer({ feedHeartbeat: 200 });

  it('a stream ends when its client is deleted by `tessera client delete` in another process', async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const other = await h.client({ scope: GUARD_SCOPE });
    const [s, kept] = [await openStream(h.server.url, reader.basic), await openStream(h.server.url, other.basic)];
    await Promise.all([connected(s), connected(kept)]);
    await cli('client', 'delete', reader.id, '--db', h.server.db);
    await s.ended;
    expect(s.comments.at(-1)).toBe('the client may no longer read the revocation feed');
    // Reconnecting is refused; another client's stream stays open.
    expect((await openStream(h.server.url, reader.basic)).status).toBe(401);
    expect(kept.isEnded()).toBe(false);
    kept.close();
  });

  it.each([
    ['loses the tessera:revocations scope', 'scope', 'tessera:introspect', 403],
    ['has its secret changed', 'secret_hash', 'another-hash', 401],
  ])('a stream ends when its client %s (changed by another program on the database)', async (_what, column, value, status) => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const s = await openStream(h.server.url, reader.basic);
    await connected(s);
    const db = new Database(h.server.db);
    db.prepare(`UPDATE clients SET ${column} = ? WHERE id = ?`).run(value, reader.id);
    db.close();
    await s.ended;
    expect((await openStream(h.server.url, reader.basic)).status).toBe(status);
  });

  it(`a client may hold ${defaults.maxStreamsPerClient} streams (maxStreamsPerClient); the next gets 429 with Retry-After as RFC 6749 §5.2 JSON, and a closed stream frees its slot`, async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const other = await h.client({ scope: GUARD_SCOPE });
    const open: OpenStream[] = [];
    for (let i = 0; i < defaults.maxStreamsPerClient; i++) open.push(await openStream(h.server.url, reader.basic));
    expect(open.map((s) => s.status)).toEqual(open.map(() => 200));
    const refused = await openStream(h.server.url, reader.basic);
    await refused.ended;
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(refused.text())).toMatchObject({ error: 'temporarily_unavailable' });
    // The cap is per client.
    const others = await openStream(h.server.url, other.basic);
    expect(others.status).toBe(200);
    open[0]!.close();
    await vi.waitFor(async () => {
      const again = await openStream(h.server.url, reader.basic);
      open.push(again);
      expect(again.status).toBe(200);
    }, { timeout: 5000, interval: 20 });
    for (const s of [...open, others]) s.close();
  });

  it('a stream whose client left before the answer started frees its slot (no stream held for a gone socket)', async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const { port } = new URL(h.server.url);
    // Each request is sent and its socket destroyed at once: the server authenticates and subscribes
    // after the client has gone.
    for (let i = 0; i < 200; i++) {
      const socket = connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`GET /revocations/stream HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${reader.basic}\r\n\r\n`);
      // Gone at varying moments: before the request is read, while it is authenticated, after.
      for (let turn = i % 4; turn > 0; turn--) await new Promise(setImmediate);
      socket.destroy();
    }
    await vi.waitFor(async () => {
      const s = await openStream(h.server.url, reader.basic);
      s.close();
      expect(s.status).toBe(200);
    }, { timeout: 5000, interval: 50 });
  });
});

/** A store that counts readFeed calls: the real SQLite store, observed from outside. */
function countingReads(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      if (name === 'readFeed') return (...args: Parameters<Store['readFeed']>) => { reads++; return target.readFeed(...args); };
      return value.bind(target);
    },
  });
  return { store: counted, reads: () => reads };
}

describe('revocation streams: fan-out cost', () => {
  let dir: string;
  let tessera: Tessera;
  let server: Server;
  let url: string;
  let reads: () => number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-fanout-'));
    const counting = countingReads(new SqliteStore({ path: join(dir, 'tessera.db'), synchronous: 'normal' }));
    reads = counting.reads;
    tessera = await tesseraOnStore(counting.store, { feedHeartbeat: 60_000, maxStreamsPerClient: 100 });
    server = createNodeServer(createHandler(tessera), { maxBodyBytes: defaults.maxBodyBytes });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await drain(server);
    await tessera.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each batch of revocations is read from the store once for all open streams, and every stream gets every event', async () => {
    const { engine } = tessera;
    const { client: reader, secret } = await engine.createClient(
      { name: 'rs', authMethod: 'client_secret_basic', grantTypes: ['client_credentials'], redirectUris: [], scope: GUARD_SCOPE, tokenFormat: 'opaque', accessTtl: null, refreshTtl: null },
      { actor: 'test' },
    );
    const { client: app } = await engine.createClient(
      { name: 'app', authMethod: 'client_secret_basic', grantTypes: ['client_credentials'], redirectUris: [], scope: 'read', tokenFormat: 'opaque', accessTtl: null, refreshTtl: null },
      { actor: 'test' },
    );
    const basic = `Basic ${btoa(`${reader.id}:${secret}`)}`;
    const streams: OpenStream[] = [];
    for (let i = 0; i < 50; i++) streams.push(await openStream(url, basic));
    await Promise.all(streams.map(connected));
    const revocations = 20;
    const tokens = [];
    for (let i = 0; i < revocations; i++) tokens.push(await engine.issueClientCredentials(app, 'read', { actor: 'test' }));
    const before = reads();
    for (const [i, t] of tokens.entries()) {
      const record = (await engine.findToken(t.access.value))!;
      await engine.revoke({ token: record.id }, { actor: 'test' });
      // Each revocation its own batch: wait until every stream has it.
      await vi.waitFor(() => { for (const s of streams) expect(s.ids).toHaveLength(i + 1); }, { timeout: 5000, interval: 2 });
    }
    const used = reads() - before;
    console.log(`fan-out: ${revocations} revocations to ${streams.length} streams took ${used} store reads`);
    // One read per batch (at most a spare one), not one per stream and batch (≥ 1,000).
    expect(used).toBeLessThanOrEqual(revocations + 2);
    const expected = streams[0]!.ids;
    expect(expected).toHaveLength(revocations);
    for (const s of streams) expect(s.ids).toEqual(expected);
    for (const s of streams) s.close();
  });
});

describe('revocation streams: catching up', () => {
  const h = useServer({ feedHeartbeat: 100 });

  it('a stream opened at an old cursor catches up from the store, then follows the shared batches without gaps or repeats', async () => {
    const reader = await h.client({ scope: GUARD_SCOPE });
    const app = await h.client();
    const start = await feedHead(h);
    const tokens = [];
    for (let i = 0; i < 12; i++) tokens.push(await accessToken(h, app));
    for (const t of tokens.slice(0, 6)) await h.revoke(app, t);
    const live = await openStream(h.server.url, reader.basic);
    await vi.waitFor(() => expect(live.ids).toHaveLength(6));
    const late = await openStream(h.server.url, reader.basic, start);
    const middle = await openStream(h.server.url, reader.basic, live.ids[2]);
    await Promise.all([h.revoke(app, tokens[6]!), h.revoke(app, tokens[7]!), h.revoke(app, tokens[8]!)]);
    for (const t of tokens.slice(9)) await h.revoke(app, t);
    const all = (await h.store.readFeed(start, 100)).map((e) => e.seq);
    expect(all).toHaveLength(12);
    await vi.waitFor(() => {
      expect(live.ids).toEqual(all);
      expect(late.ids).toEqual(all);
      expect(middle.ids).toEqual(all.slice(3));
    });
    for (const s of [live, late, middle]) s.close();
  });
});

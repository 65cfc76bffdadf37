/**
 * GET /admin/api/v1/events (issue 13, the console's live overview): every audited change as
 * Server-Sent Events (WHATWG HTML §9.2), on SQLite and PostgreSQL. A token issued at /token shows
 * up (by id, never its value); Last-Event-ID resumes with every event committed meanwhile, once
 * each, even when concurrent writes commit on PostgreSQL's several audit chains out of seq order;
 * a change another process commits on the same database shows up; no credential, a wrong one or a
 * Last-Event-ID the stream never sent (or past a chain's head) is a problem, never a stream; the
 * open streams are bounded, per server and per admin token; heartbeats come, and revoking the admin
 * token, or signing out of the console session a stream came through, ends the stream.
 */
import { randomBytes } from 'node:crypto';
import { openTessera } from '@tessera/server';
import postgres from 'postgres';
import { createTestDatabase, type TestDatabase } from '@tessera/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from './admin-kit.js';

interface LifecycleEvent {
  id: string;
  seq: number;
  event: string;
  actor: string;
  token_id: string | null;
  client_id: string | null;
  user_id: string | null;
}

/** An open event stream read with fetch: its events, comments and raw text so far. */
interface EventStream {
  status: number;
  headers: Headers;
  events: LifecycleEvent[];
  comments: string[];
  raw: () => string;
  ended: Promise<void>;
  close(): void;
}

async function openEvents(adminUrl: string, headers: Record<string, string>): Promise<EventStream> {
  const controller = new AbortController();
  const res = await fetch(`${adminUrl}/admin/api/v1/events`, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  let raw = '';
  const stream: EventStream = {
    status: res.status, headers: res.headers, events: [], comments: [], raw: () => raw, ended: Promise.resolve(), close: () => controller.abort(),
  };
  if (res.status !== 200) return stream;
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  stream.ended = (async () => {
    let pending = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        raw += value;
        pending += value;
        const frames = pending.split('\n\n');
        pending = frames.pop() ?? '';
        for (const frame of frames) {
          for (const line of frame.split('\n')) if (line.startsWith(':')) stream.comments.push(line.slice(1).trim());
          const id = /^id: (.+)$/m.exec(frame)?.[1];
          const data = /^data: (.+)$/m.exec(frame)?.[1];
          if (id !== undefined && data !== undefined && /^event: lifecycle$/m.test(frame)) stream.events.push({ id, ...JSON.parse(data) });
        }
      }
    } catch {
      // Aborted by close().
    }
  })();
  return stream;
}

describe.each(['sqlite', 'postgres'] as const)('GET /admin/api/v1/events on %s', (store) => {
  let pg: TestDatabase | undefined;
  let s: AdminServer & { closeAll(): Promise<void> };
  let token: string;
  let client: { client_id: string; client_secret: string };
  const open: EventStream[] = [];

  const follow = async (headers: Record<string, string> = {}, server: AdminServer = s) => {
    const stream = await openEvents(server.adminUrl, { authorization: `Bearer ${token}`, ...headers });
    open.push(stream);
    return stream;
  };

  /** A client_credentials token through the public listener: its value, and its id from the stream. */
  async function issue(server: AdminServer = s): Promise<string> {
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=read',
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  const issuedTokens = (stream: EventStream) => stream.events.filter((e) => e.event === 'token.issued').map((e) => e.token_id as string);

  beforeAll(async () => {
    pg = store === 'postgres' ? await createTestDatabase('tessera_admin_events') : undefined;
    s = await startAdminServer(pg?.url, { feedHeartbeat: 200 });
    token = await s.adminToken('live');
    client = (await s.call(token, 'POST', '/clients', { name: 'events-svc', grant_types: ['client_credentials'], scope: 'read' })).body;
  });
  afterAll(async () => {
    for (const stream of open) stream.close();
    await s?.closeAll();
    await pg?.drop();
  });

  it('a token issued at /token shows up as a token.issued event naming its id, never its value (text/event-stream, no-store)', async () => {
    const stream = await follow();
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.headers.get('cache-control')).toBe('no-store');
    const value = await issue();
    await expect.poll(() => issuedTokens(stream).length, { timeout: 10_000 }).toBe(1);
    const [event] = stream.events.filter((e) => e.event === 'token.issued');
    expect(event).toMatchObject({ client_id: client.client_id, seq: expect.any(Number) });
    expect((await s.call(token, 'GET', `/tokens?client_id=${client.client_id}`)).body.items.map((t: { id: string }) => t.id)).toContain(event?.token_id);
    expect(stream.raw()).not.toContain(value);
    expect(stream.raw()).not.toContain(client.client_secret);
    stream.close();
  });

  it('Last-Event-ID resumes after the last event received: every event committed meanwhile (concurrent writes included) arrives, none twice', async () => {
    const first = await follow();
    // Concurrent issues: on PostgreSQL they commit on several audit chains, not in seq order.
    await Promise.all(Array.from({ length: 20 }, () => issue()));
    await expect.poll(() => issuedTokens(first).length, { timeout: 10_000 }).toBe(20);
    first.close();
    const last = first.events.at(-1)?.id as string;
    await Promise.all(Array.from({ length: 20 }, () => issue()));
    const resumed = await follow({ 'last-event-id': last });
    expect(resumed.status).toBe(200);
    await Promise.all(Array.from({ length: 10 }, () => issue()));
    await expect.poll(() => issuedTokens(resumed).length, { timeout: 10_000 }).toBe(30);
    const seen = [...issuedTokens(first), ...issuedTokens(resumed)];
    expect(new Set(seen).size).toBe(50);
    const stored = await s.tessera.store.queryAudit({ event: 'token.issued', afterSeq: Math.min(...first.events.map((e) => e.seq)) - 1, limit: 1000 });
    expect(new Set(stored.map((r) => r.tokenId))).toEqual(new Set(seen));
    resumed.close();
  });

  it('streams open at once send the same events under the same ids, once each; one resumed from an older id catches up and then follows with them', async () => {
    const streams = await Promise.all(Array.from({ length: 3 }, () => follow()));
    await Promise.all(Array.from({ length: 10 }, () => issue()));
    for (const stream of streams) await expect.poll(() => issuedTokens(stream).length, { timeout: 10_000 }).toBe(10);
    const early = (streams[0] as EventStream).events.filter((e) => e.event === 'token.issued')[4] as LifecycleEvent;
    const resumed = await follow({ 'last-event-id': early.id });
    await Promise.all(Array.from({ length: 10 }, () => issue()));
    for (const stream of streams) await expect.poll(() => issuedTokens(stream).length, { timeout: 10_000 }).toBe(20);
    await expect.poll(() => issuedTokens(resumed).length, { timeout: 10_000 }).toBe(15);
    const [first, ...others] = streams.map((stream) => stream.events.map((e) => `${e.id} ${e.event} ${e.token_id}`));
    for (const other of others) expect(other).toEqual(first);
    expect(new Set(first).size).toBe(first?.length);
    // The resumed stream: everything the live ones sent after its id, once each (on PostgreSQL's several chains, not
    // necessarily in the same order), and it ends where they do.
    const after = (streams[0] as EventStream).events.slice((streams[0] as EventStream).events.indexOf(early) + 1);
    const what = (e: LifecycleEvent) => `${e.event} ${e.seq} ${e.token_id}`;
    expect(resumed.events.map(what).sort()).toEqual(after.map(what).sort());
    expect(resumed.events.at(-1)?.id).toBe(after.at(-1)?.id);
    for (const stream of [...streams, resumed]) stream.close();
  });

  it.runIf(store === 'postgres')('a record committed after a higher seq was sent (on another audit chain) still arrives, live and after a resume', async () => {
    const sql = postgres(pg?.url as string, { max: 1, onnotice: () => {} });
    const live = await follow();
    const resumed = await follow();
    // A transaction that takes its seq first and commits last (tessera_append_audit, as every write's).
    const at = Date.now();
    const record = {
      at, body: JSON.stringify([at, 'user.updated', 'held', null, null, null, null, null, null, null]).slice(1, -1), event: 'user.updated', actor: 'held',
      client_id: null, user_id: null, grant_id: null, token_id: null, reason: null, endpoint: null, data: null,
    };
    let appended!: () => void;
    let release!: () => void;
    const isAppended = new Promise<void>((resolve) => (appended = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = sql.begin(async (tx) => {
      await tx`SELECT tessera_append_audit(${sql.json([record])}::jsonb)`;
      appended();
      await released;
    });
    try {
      await isAppended;
      await issue();
      await expect.poll(() => issuedTokens(resumed).length, { timeout: 10_000 }).toBe(1);
      resumed.close();
      const last = resumed.events.at(-1) as LifecycleEvent;
      release();
      await held;
      const again = await follow({ 'last-event-id': last.id });
      for (const stream of [live, again]) {
        await expect.poll(() => stream.events.find((e) => e.actor === 'held')?.seq, { timeout: 10_000 }).toBeLessThan(last.seq);
      }
      expect((await s.call(token, 'GET', '/audit/verify')).body).toMatchObject({ ok: true });
    } finally {
      release();
      await held.catch(() => {});
      await sql.end({ timeout: 5 });
    }
  });

  it('no credential is a 401 problem with WWW-Authenticate; a wrong one too; a Last-Event-ID it never sent is a 400 problem', async () => {
    for (const headers of [{}, { authorization: 'Bearer tsadm_nope' }] as Record<string, string>[]) {
      const res = await fetch(`${s.adminUrl}/admin/api/v1/events`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="tessera-admin"/);
      expect(await res.json()).toMatchObject({ status: 401, title: expect.any(String) });
    }
    for (const bad of ['nope', '1.2.3.4.5.6.7.8.9', '-1']) {
      const res = await fetch(`${s.adminUrl}/admin/api/v1/events`, { headers: { authorization: `Bearer ${token}`, 'last-event-id': bad } });
      expect(res.status, bad).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  it('a read-only admin token may follow the stream; HEAD answers the headers only', async () => {
    const viewer = await s.adminToken('viewer', { readOnly: true });
    const stream = await openEvents(s.adminUrl, { authorization: `Bearer ${viewer}` });
    open.push(stream);
    expect(stream.status).toBe(200);
    stream.close();
    const head = await fetch(`${s.adminUrl}/admin/api/v1/events`, { method: 'HEAD', headers: { authorization: `Bearer ${viewer}` } });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/event-stream');
  });

  it('a Last-Event-ID past a chain\'s head is a 400 problem saying so (it would silence the stream until the chain got there)', async () => {
    const stream = await follow();
    await issue();
    await expect.poll(() => stream.events.length, { timeout: 10_000 }).toBeGreaterThan(0);
    stream.close();
    const seqs = (stream.events.at(-1) as LifecycleEvent).id.split('.').map(Number);
    for (const chain of [0, seqs.length - 1]) {
      const ahead = seqs.map((seq, i) => (i === chain ? seq + 1_000_000 : seq)).join('.');
      const res = await fetch(`${s.adminUrl}/admin/api/v1/events`, { headers: { authorization: `Bearer ${token}`, 'last-event-id': ahead } });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(((await res.json()) as { detail: string }).detail).toMatch(new RegExp(`past the head of audit chain ${chain}`));
    }
  });

  it.runIf(store === 'sqlite')('at most 4 streams per admin token: one more is a 429 problem "Too Many Requests" with Retry-After (RFC 6585 §4); another token still gets one', async () => {
    const value = await s.adminToken('greedy');
    const mine: EventStream[] = [];
    for (let i = 0; i < 4; i++) {
      const stream = await follow({ authorization: `Bearer ${value}` });
      expect(stream.status).toBe(200);
      mine.push(stream);
    }
    const refused = await follow({ authorization: `Bearer ${value}` });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    const body = await (await fetch(`${s.adminUrl}/admin/api/v1/events`, { headers: { authorization: `Bearer ${value}` } })).json();
    expect(body).toMatchObject({ status: 429, title: 'Too Many Requests', detail: expect.stringMatching(/one admin token/) });
    const other = await follow();
    expect(other.status).toBe(200);
    other.close();
    mine.pop()?.close();
    await expect.poll(async () => {
      const again = await follow({ authorization: `Bearer ${value}` });
      again.close();
      return again.status;
    }, { timeout: 10_000 }).toBe(200);
    for (const stream of mine) stream.close();
  });

  it.runIf(store === 'sqlite')('at most 32 streams are open at once: one more is a 429 problem with Retry-After (RFC 6585 §4), and a closed one frees its slot', async () => {
    const mine: EventStream[] = [];
    let refused: EventStream | undefined;
    // Four a token (the per-token bound), so that the server's bound is the one reached.
    const tokens = await Promise.all(Array.from({ length: 11 }, () => s.adminToken('many')));
    while (refused === undefined && mine.length <= 40) {
      const stream = await follow({ authorization: `Bearer ${tokens[Math.floor(mine.length / 4)]}` });
      if (stream.status === 429) refused = stream;
      else mine.push(stream);
    }
    expect(mine.length).toBeLessThanOrEqual(32);
    expect(refused?.headers.get('content-type')).toBe('application/problem+json');
    expect(refused?.headers.get('retry-after')).toMatch(/^\d+$/);
    mine.pop()?.close();
    await expect.poll(async () => {
      const again = await follow({ authorization: `Bearer ${tokens[10]}` });
      again.close();
      return again.status;
    }, { timeout: 10_000 }).toBe(200);
    for (const stream of mine) stream.close();
  });

  it('a stream opened through a console session ends when that session signs out, though its admin token lives on', async () => {
    const signIn = await fetch(`${s.adminUrl}/console/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(token)}` });
    expect(signIn.status).toBe(200);
    const cookie = (signIn.headers.get('set-cookie') as string).split(';')[0] as string;
    const { csrf } = (await signIn.json()) as { csrf: string };
    const stream = await openEvents(s.adminUrl, { cookie });
    open.push(stream);
    expect(stream.status).toBe(200);
    expect((await fetch(`${s.adminUrl}/console/session/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status).toBe(204);
    await stream.ended;
    expect(stream.comments).toContain('the admin token or console session is no longer valid');
    expect((await s.call(token, 'GET', '/stats')).status).toBe(200);
  });

  it('sends heartbeat comments, and ends the stream once its admin token is revoked', async () => {
    const value = await s.adminToken('short');
    const stream = await openEvents(s.adminUrl, { authorization: `Bearer ${value}` });
    open.push(stream);
    await expect.poll(() => stream.comments.includes('heartbeat'), { timeout: 10_000 }).toBe(true);
    const id = (await s.tessera.store.listAdminTokens()).find((t) => value.includes(t.id))?.id as string;
    expect(await s.tessera.engine.revokeAdminToken(id, { actor: 'test' })).toMatchObject({ id });
    await stream.ended;
    expect(stream.comments).toContain('the admin token or console session is no longer valid');
  });

  it('a change committed by another process on the same database (a user created, as the CLI does) shows up too', async () => {
    const stream = await follow();
    const other = await openTessera({ db: s.db, synchronous: 'normal' });
    try {
      const user = await other.engine.createUser(`u${randomBytes(4).toString('hex')}`, randomBytes(12).toString('base64url'), { actor: 'cli' });
      await expect.poll(() => stream.events.find((e) => e.event === 'user.created')?.user_id, { timeout: 10_000 }).toBe(user.id);
      expect(stream.events.find((e) => e.event === 'user.created')).toMatchObject({ actor: 'cli' });
    } finally {
      await other.close();
    }
    stream.close();
  });
});

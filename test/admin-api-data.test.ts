/**
 * The admin API's data views and revocations (issue 13), through HTTP: tokens and grants paged
 * by cursor while tokens are issued, never showing token values; revocations that introspection
 * sees at once, with the reason audited under the admin token's name; the audit log's filters and
 * chain check (one pass shared by concurrent callers, reused with its age, `?fresh=true` catching
 * a record edited in the database); stats. On SQLite and on PostgreSQL (the store's page queries are each store's own).
 */
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { createTestDatabase, type TestDatabase, userRecord } from '@tessera/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from './admin-kit.js';

describe.each(['sqlite', 'postgres'] as const)('admin API data on %s', (store) => {
  let s: AdminServer & { closeAll(): Promise<void> };
  let token: string;
  let adminName: string;
  let client: { client_id: string; client_secret: string };

  const basic = () => `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}`;
  async function issue(): Promise<string> {
    const res = await fetch(`${s.url}/token`, {
      method: 'POST', headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=read',
    });
    return ((await res.json()) as { access_token: string }).access_token;
  }
  async function active(value: string): Promise<boolean> {
    const res = await fetch(`${s.url}/introspect`, { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${value}` });
    return ((await res.json()) as { active: boolean }).active;
  }

  /** A statement run on the store's database from another connection, behind the server's back. */
  async function direct(statement: string): Promise<Array<Record<string, unknown>>> {
    if (store === 'sqlite') {
      const db = new Database(s.db);
      try {
        const prepared = db.prepare(statement);
        if (prepared.reader) return prepared.all() as Array<Record<string, unknown>>;
        prepared.run();
        return [];
      } finally {
        db.close();
      }
    }
    const sql = postgres(s.db, { max: 1, onnotice: () => {} });
    try {
      return [...(await sql.unsafe(statement))];
    } finally {
      await sql.end({ timeout: 5 });
    }
  }

  let pg: TestDatabase | undefined;
  beforeAll(async () => {
    pg = store === 'postgres' ? await createTestDatabase('tessera_admin') : undefined;
    s = await startAdminServer(pg?.url);
    token = await s.adminToken('ops');
    adminName = (await s.tessera.store.listAdminTokens()).find((t) => token.includes(t.id))?.name as string;
    client = (await s.call(token, 'POST', '/clients', { name: 'svc', grant_types: ['client_credentials'], scope: 'read write' })).body;
  });
  afterAll(async () => {
    await s?.closeAll();
    await pg?.drop();
  });

  describe('tokens and grants', () => {
    it('GET /tokens pages with an opaque cursor: no token twice, none skipped while tokens are issued between pages; never a value or hash', async () => {
      const values = await Promise.all(Array.from({ length: 12 }, () => issue()));
      const before = (await s.call(token, 'GET', `/tokens?client_id=${client.client_id}&limit=500`)).body.items.map((t: { id: string }) => t.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { status: number; body: { items: Array<Record<string, unknown>>; next_cursor: string | null } } = await s.call(token, 'GET', `/tokens?client_id=${client.client_id}&limit=5${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        seen.push(...res.body.items.map((t) => t.id as string));
        for (const t of res.body.items) expect(Object.keys(t)).not.toContain('hash');
        cursor = res.body.next_cursor;
        await issue();
      } while (cursor !== null);
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of before) expect(seen).toContain(id);
      const all = JSON.stringify((await s.call(token, 'GET', '/tokens?limit=500')).body);
      for (const v of values) expect(all).not.toContain(v.slice(-43));
    });

    it('GET /tokens and /grants filter by state, client and grant; bad filters are 400 problems', async () => {
      const listed = await s.call(token, 'GET', `/tokens?client_id=${client.client_id}&state=active&limit=1`);
      expect(listed.body.items[0]).toMatchObject({ state: 'active', client_id: client.client_id, kind: 'access' });
      const grants = await s.call(token, 'GET', `/grants?client_id=${client.client_id}`);
      expect(grants.body.items).toEqual([expect.objectContaining({ client_id: client.client_id, state: 'active', user_id: null })]);
      const ofGrant = (await s.call(token, 'GET', `/tokens?grant_id=${grants.body.items[0].id}&limit=500`)).body.items;
      expect(ofGrant.length).toBeGreaterThan(0);
      for (const t of ofGrant) expect(t.grant_id).toBe(grants.body.items[0].id);
      expect((await s.call(token, 'GET', '/tokens?grant_id=nope')).body.items).toEqual([]);
      expect((await s.call(token, 'GET', '/tokens?state=dead')).status).toBe(400);
      expect((await s.call(token, 'GET', '/tokens?from=yesterday')).status).toBe(400);
      expect((await s.call(token, 'GET', '/tokens?limit=501')).status).toBe(400);
    });

    it('GET /tokens takes grant_id repeated (up to 50): the tokens of any of those grants, in one page; 51 is a 400 problem, and other parameters still may not repeat', async () => {
      const grantOf = async (name: string) => {
        const c = (await s.call(token, 'POST', '/clients', { name, grant_types: ['client_credentials'], scope: 'read' })).body as { client_id: string; client_secret: string };
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`${s.url}/token`, {
            method: 'POST', headers: { authorization: `Basic ${btoa(`${c.client_id}:${c.client_secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials',
          });
          expect(res.status).toBe(200);
        }
        return (await s.call(token, 'GET', `/grants?client_id=${c.client_id}`)).body.items[0].id as string;
      };
      const [a, b, c] = [await grantOf('multi-a'), await grantOf('multi-b'), await grantOf('multi-c')];
      const listed = await s.call(token, 'GET', `/tokens?grant_id=${a}&grant_id=${b}&grant_id=nope&limit=500`);
      expect(listed.status).toBe(200);
      expect(listed.body.items.map((t: { grant_id: string }) => t.grant_id).sort()).toEqual([a, a, b, b].sort());
      expect(listed.body.items.map((t: { grant_id: string }) => t.grant_id)).not.toContain(c);
      // Paged like any listing: no token twice, none left out.
      const paged: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { body: { items: Array<{ id: string }>; next_cursor: string | null } } = await s.call(token, 'GET', `/tokens?grant_id=${a}&grant_id=${b}&grant_id=${c}&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
        paged.push(...res.body.items.map((t) => t.id));
        cursor = res.body.next_cursor;
      } while (cursor !== null);
      expect(paged).toHaveLength(6);
      expect(new Set(paged).size).toBe(6);
      const fifty = Array.from({ length: 49 }, (_, i) => `grant_id=none${i}`).join('&');
      expect((await s.call(token, 'GET', `/tokens?${fifty}&grant_id=${a}`)).body.items).toHaveLength(2);
      const tooMany = await s.call(token, 'GET', `/tokens?${fifty}&grant_id=${a}&grant_id=${b}`);
      expect(tooMany.status).toBe(400);
      expect(tooMany.headers.get('content-type')).toBe('application/problem+json');
      expect(tooMany.body).toMatchObject({ status: 400, detail: expect.stringMatching(/at most 50 grant_id values/), errors: [expect.objectContaining({ pointer: '/query/grant_id' })] });
      expect((await s.call(token, 'GET', `/tokens?client_id=${a}&client_id=${b}`)).status).toBe(400);
      expect((await s.call(token, 'GET', `/tokens?grant_id=${a}&grant_id=`)).status).toBe(400);
      const doc = (await (await fetch(`${s.adminUrl}/admin/api/v1/openapi.json`)).json()) as { paths: Record<string, { get: { parameters: Array<Record<string, unknown>> } }> };
      expect(doc.paths['/admin/api/v1/tokens']?.get.parameters.find((p) => p.name === 'grant_id')).toMatchObject({
        in: 'query', style: 'form', explode: true, schema: { type: 'array', maxItems: 50, items: { type: 'string' } },
      });
    });
  });

  describe('POST /revocations', () => {
    it('by token id: introspection says inactive at once; the reason is audited with the admin token name', async () => {
      const value = await issue();
      expect(await active(value)).toBe(true);
      const [listed] = (await s.call(token, 'GET', `/tokens?client_id=${client.client_id}&state=active&limit=500`)).body.items.slice(-1);
      const res = await s.call(token, 'POST', '/revocations', { type: 'token', value: listed.id, reason: 'leaked in a log' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ revoked_tokens: 1 });
      expect(await active(value)).toBe(false);
      const audit = await s.call(token, 'GET', `/audit?event=token.revoked&actor=admin:${adminName}`);
      expect(audit.body.items.at(-1)).toMatchObject({ reason: 'leaked in a log', actor: `admin:${adminName}`, token_id: listed.id });
      expect(JSON.stringify(audit.body)).not.toContain(token.slice(-43));
    });

    it('by client, grant and issued_before: every token of it is inactive at once', async () => {
      const a = await issue();
      expect((await s.call(token, 'POST', '/revocations', { type: 'client', value: client.client_id, reason: 'rotating' })).body.revoked_tokens).toBeGreaterThan(0);
      expect(await active(a)).toBe(false);
      const b = await issue();
      const [grant] = (await s.call(token, 'GET', `/grants?client_id=${client.client_id}&state=active`)).body.items;
      expect((await s.call(token, 'POST', '/revocations', { type: 'grant', value: grant.id })).status).toBe(200);
      expect(await active(b)).toBe(false);
      const c = await issue();
      await new Promise((r) => setTimeout(r, 5));
      expect((await s.call(token, 'POST', '/revocations', { type: 'issued_before', value: new Date().toISOString() })).status).toBe(200);
      expect(await active(c)).toBe(false);
    });

    it('bad revocations are problems: unknown ids 404, a future cutoff 422, a bad type or time 400, read-only 403', async () => {
      expect((await s.call(token, 'POST', '/revocations', { type: 'user', value: 'nobody' })).status).toBe(404);
      expect((await s.call(token, 'POST', '/revocations', { type: 'issued_before', value: new Date(Date.now() + 3_600_000).toISOString() })).status).toBe(422);
      expect((await s.call(token, 'POST', '/revocations', { type: 'issued_before', value: 'soon' })).status).toBe(400);
      expect((await s.call(token, 'POST', '/revocations', { type: 'family', value: 'x' })).status).toBe(400);
      const ro = await s.adminToken('viewer', { readOnly: true });
      expect((await s.call(ro, 'POST', '/revocations', { type: 'client', value: client.client_id })).status).toBe(403);
    });
  });

  describe('bad input never reaches the database as a 500 (security review)', () => {
    const forged = (key: unknown) => Buffer.from(JSON.stringify([key])).toString('base64url');

    it('a forged cursor (a fraction, a huge or negative number, a long or odd string) is a 400 problem', async () => {
      for (const key of [1.5, 1e30, 2 ** 63, -1]) expect((await s.call(token, 'GET', `/audit?cursor=${forged(key)}`)).status).toBe(400);
      for (const key of ['x'.repeat(201), 'a b', 'é']) expect((await s.call(token, 'GET', `/tokens?cursor=${forged(key)}`)).status).toBe(400);
    });

    it('access_ttl and refresh_ttl are at most ten years: more is a 400 problem, and the token listing stays readable', async () => {
      const huge = await s.call(token, 'POST', '/clients', { name: 'forever', grant_types: ['client_credentials'], scope: 'read', access_ttl: 9007199254740991 });
      expect(huge.status).toBe(400);
      expect(huge.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer: '/body/access_ttl' })]));
      const longest = await s.call(token, 'POST', '/clients', { name: 'decade', grant_types: ['client_credentials'], scope: 'read', refresh_ttl: 10 * 366 * 86_400 });
      expect(longest.status).toBe(201);
      expect((await s.call(token, 'PATCH', `/clients/${longest.body.client_id}`, { access_ttl: 10 * 366 * 86_400 + 1 })).status).toBe(400);
      expect((await s.call(token, 'GET', '/tokens')).status).toBe(200);
    });

    it('the same new username sent at once: one 201, every other a 409, never a 500', async () => {
      const body = { username: `racer-${store}`, password: 'correct horse battery staple 42' };
      const statuses = await Promise.all(Array.from({ length: 4 }, () => s.call(token, 'POST', '/users', body).then((r) => r.status)));
      expect(statuses.sort()).toEqual([201, 409, 409, 409]);
    });

    it('RFC 9110 §9.1: HEAD is answered wherever GET is, and Allow lists it', async () => {
      const head = await fetch(`${s.adminUrl}/admin/api/v1/clients`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      const put = await s.call(token, 'PUT', '/clients');
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    });
  });

  describe('searching clients and users', () => {
    type Listing = { status: number; body: { items: Array<Record<string, string>>; next_cursor: string | null } };
    /** Every page of a listing with `limit`, calling `between` after each page. */
    async function allPages(path: string, limit: number, between = async () => {}): Promise<Array<Record<string, string>>> {
      const seen: Array<Record<string, string>> = [];
      let cursor: string | null = null;
      do {
        const res: Listing = await s.call(token, 'GET', `${path}${path.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        seen.push(...res.body.items);
        cursor = res.body.next_cursor;
        await between();
      } while (cursor !== null);
      return seen;
    }
    const tag = () => crypto.randomUUID().slice(0, 8);
    const newUser = async (username: string, email: string | null = null) => {
      const u = userRecord({ username, email });
      await s.tessera.store.createUser(u, { event: 'user.created', actor: 'test' });
      return u;
    };

    it('GET /users?q= finds a substring of the username, email or id, ignoring case, with % and _ as plain characters', async () => {
      const t = tag();
      const alice = await newUser(`${t}-Alice_Smith`, `alice@${t}.example`);
      const other = await newUser(`${t}-aliceXsmith`);
      const percent = await newUser(`${t}-100%-off`);
      const names = async (q: string) => ((await s.call(token, 'GET', `/users?q=${encodeURIComponent(q)}`)).body.items as Array<{ username: string }>).map((u) => u.username).sort();
      expect(await names(`${t}-ALICE`)).toEqual([alice.username, other.username].sort());
      expect(await names(`${t}-alice_`)).toEqual([alice.username]);
      expect(await names(`${t}-%`)).toEqual([]);
      expect(await names('0%-off')).toEqual([percent.username]);
      expect(await names(`@${t.toUpperCase()}.example`)).toEqual([alice.username]);
      expect(await names(alice.id)).toEqual([alice.username]);
      // An empty search lists everyone.
      expect((await s.call(token, 'GET', '/users?q=%20')).body.items.length).toBeGreaterThanOrEqual(3);
    });

    it('GET /clients?q= finds a substring of the name or client_id, ignoring case; _ is a plain character', async () => {
      const t = tag();
      const made = (await s.call(token, 'POST', '/clients', { name: `Billing ${t} (prod)`, grant_types: ['client_credentials'], scope: 'read' })).body;
      const ids = async (q: string) => ((await s.call(token, 'GET', `/clients?q=${encodeURIComponent(q)}`)).body.items as Array<{ client_id: string }>).map((c) => c.client_id);
      expect(await ids(`billing ${t.toUpperCase()}`)).toEqual([made.client_id]);
      expect(await ids(made.client_id)).toEqual([made.client_id]);
      expect(await ids(`${t}_(`)).toEqual([]);
    });

    it('a search pages by cursor: no row twice, none of those there before skipped while rows are added between pages', async () => {
      const t = tag();
      const before = await Promise.all(Array.from({ length: 9 }, (_, i) => newUser(`${t}-paged-${i}`)));
      let added = 0;
      const seen = await allPages(`/users?q=${t}-PAGED`, 2, async () => {
        await newUser(`${t}-paged-late-${added++}`);
      });
      const ids = seen.map((u) => u.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const u of before) expect(ids).toContain(u.id);
      for (const u of seen) expect(u.username).toContain(`${t}-paged-`);
      // Order is by id, as without a search.
      expect([...ids].sort()).toEqual(ids);
    });

    it('a cursor this API did not return is a 400 problem naming /query/cursor, on /users and /clients, with or without q', async () => {
      for (const path of ['/users?cursor=not-a-cursor', '/clients?q=x&cursor=WyJ4Il0x', `/users?q=a&cursor=${btoa('[{"sql":1}]')}`]) {
        const res = await s.call(token, 'GET', path);
        expect(res.status, path).toBe(400);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.body.errors[0].pointer).toBe('/query/cursor');
      }
      expect((await s.call(token, 'GET', `/users?q=${'x'.repeat(201)}`)).status).toBe(400);
    });
  });

  describe('control characters and bidirectional overrides (never a 500)', () => {
    it('an id filter with a NUL or another control character is a 400 problem, not a database error', async () => {
      for (const path of ['/deliveries?webhook_id=%00', '/deliveries?webhook_id=a%1Bb', '/tokens?client_id=%00', '/audit?client_id=%E2%80%AE']) {
        const res = await s.call(token, 'GET', path);
        expect(res.status, path).toBe(400);
        expect(res.body).toMatchObject({ status: 400, errors: [expect.objectContaining({ detail: expect.stringMatching(/control characters/) })] });
      }
    });

    it('a client name with a NUL, a C1 control, DEL or a bidi override (U+202E) is refused on create and update (400), as the CLI refuses it', async () => {
      for (const name of ['a\u0000b', 'a\u0085b', 'a\u007fb', 'invoice\u202Egpj.exe', 'a\u2066b']) {
        const made = await s.call(token, 'POST', '/clients', { name, grant_types: ['client_credentials'], scope: 'read' });
        expect(made.status, JSON.stringify(name)).toBe(400);
        expect(made.body.errors).toEqual([expect.objectContaining({ pointer: '/body/name' })]);
        const changed = await s.call(token, 'PATCH', `/clients/${client.client_id}`, { name });
        expect(changed.status, JSON.stringify(name)).toBe(400);
      }
      expect((await s.call(token, 'GET', `/clients/${client.client_id}`)).body.name).toBe('svc');
      expect((await s.call(token, 'POST', '/users', { username: 'bidi', password: 'correct horse battery staple', name: 'a\u202Eb' })).status).toBe(400);
    });
  });

  describe('audit and stats', () => {
    it('GET /audit filters by client and pages by cursor', async () => {
      const first = await s.call(token, 'GET', `/audit?client_id=${client.client_id}&limit=2`);
      expect(first.body.items).toHaveLength(2);
      const second = await s.call(token, 'GET', `/audit?client_id=${client.client_id}&limit=2&cursor=${first.body.next_cursor}`);
      expect(second.body.items[0].seq).toBeGreaterThan(first.body.items[1].seq);
    });

    type Verification = { ok: boolean; records: number; problem?: { seq: number; chain: number; reason: string }; verified_at: string; age_seconds: number; took_ms: number };
    const verify = async (query = '', as = token): Promise<Verification> => {
      const res = await s.call(as, 'GET', `/audit/verify${query}`);
      expect(res.status).toBe(200);
      return res.body;
    };

    /**
     * Holds the passes over the audit log (each begins by reading the chains' heads) until released,
     * counting them until restored, and the requests whose admin token has been looked up meanwhile (from there to
     * asking for the verification is only microtasks).
     */
    function holdPasses() {
      const { store, engine } = s.tessera;
      const [heads, lookup] = [store.auditHeads, engine.adminTokenFor];
      let open!: () => void;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const seen = { passes: 0, requests: 0 };
      store.auditHeads = async () => {
        seen.passes++;
        await gate;
        return heads.call(store);
      };
      engine.adminTokenFor = async (value) => {
        const found = await lookup.call(engine, value);
        seen.requests++;
        return found;
      };
      return {
        seen,
        release: () => open(),
        restore() {
          [store.auditHeads, engine.adminTokenFor] = [heads, lookup];
        },
      };
    }

    it('GET /audit/verify: concurrent callers share one full pass; within the bound the same pass is answered again, with its time and age', async () => {
      // The file's first check: no pass to reuse yet, so one begins and all six wait for it.
      const hold = holdPasses();
      const pending = Array.from({ length: 6 }, () => verify());
      await expect.poll(() => hold.seen.requests).toBe(6);
      hold.release();
      const answers = await Promise.all(pending);
      hold.restore();
      expect(hold.seen.passes).toBe(1);
      expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
      const pass = answers[0] as Verification;
      expect(pass).toMatchObject({ ok: true, records: (await s.tessera.store.auditHeads()).reduce((n, h) => n + h.records, 0) });
      await issue();
      const again = await verify();
      expect(again).toMatchObject({ ok: true, records: pass.records, verified_at: pass.verified_at, took_ms: pass.took_ms });
      // Its age is the time since verified_at, by the server's clock (whole seconds).
      expect(again.age_seconds).toBeGreaterThanOrEqual(0);
      expect(again.age_seconds).toBeLessThanOrEqual((Date.now() - Date.parse(pass.verified_at)) / 1000);
    });

    it('GET /audit/verify?fresh=true: a new full pass begun after the request; callers asking during a pass share the one after it; a read-only token may ask', async () => {
      const reader = await s.adminToken('reader', { readOnly: true });
      const before = Date.now();
      const hold = holdPasses();
      const first = verify('?fresh=true');
      await expect.poll(() => hold.seen.requests).toBe(1);
      const during = [verify('?fresh=true', reader), verify('?fresh=true'), verify('?fresh=true')];
      await expect.poll(() => hold.seen.requests).toBe(4);
      hold.release();
      const [a, ...later] = await Promise.all([first, ...during]);
      hold.restore();
      expect(hold.seen.passes).toBe(2);
      // One pass at a time: the three that asked during the first share the second.
      expect(new Set(later.map((l) => JSON.stringify(l))).size).toBe(1);
      expect(Date.parse(a?.verified_at as string)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(later[0]?.verified_at as string)).toBeGreaterThanOrEqual(Date.parse(a?.verified_at as string));
      expect([a?.ok, later[0]?.ok]).toEqual([true, true]);
      expect((await s.call(token, 'GET', '/audit/verify?fresh=yes')).status).toBe(400);
    });

    it('GET /audit/verify?fresh=true reports a record edited in the database as broken; the reused pass, older, still says when it ran', async () => {
      const [row] = await direct('SELECT seq, data FROM audit WHERE data IS NOT NULL ORDER BY seq LIMIT 1');
      const [seq, data] = [Number(row?.seq), String(row?.data)];
      const setData = (text: string) => direct(`UPDATE audit SET data = '${text.replaceAll("'", "''")}' WHERE seq = ${seq}`);
      const reused = await verify();
      await setData('{"scope":"admin"}');
      expect(await verify()).toMatchObject({ ok: true, verified_at: reused.verified_at });
      expect(await verify('?fresh=true')).toMatchObject({ ok: false, problem: { seq, reason: 'record content altered' } });
      await setData(data);
      expect(await verify('?fresh=true')).toMatchObject({ ok: true });
    });

    it('GET /stats counts tokens by state and client, and events per minute over the last hour', async () => {
      const stats = await s.call(token, 'GET', '/stats');
      expect(stats.status).toBe(200);
      expect(stats.body.tokens.revoked).toBeGreaterThan(0);
      expect(stats.body.tokens_by_client).toEqual(expect.arrayContaining([expect.objectContaining({ client_id: client.client_id })]));
      expect(stats.body.events_per_minute).toHaveLength(60);
      expect(stats.body.events_per_minute.at(-1).events).toBeGreaterThan(0);
      expect(Date.parse(stats.body.counted_at)).toBeLessThanOrEqual(Date.now());
    });
  });
});

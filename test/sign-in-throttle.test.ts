/**
 * Defence against password guessing (issue 9, defect 5), over HTTP from several loopback
 * addresses (Linux routes all of 127.0.0.0/8 to lo, so a request can come from 127.0.0.2):
 * throttling with 429 + Retry-After and exponential back-off, a victim never locked out by an
 * attacker, failed sign-ins audited without the password, and the password policy of the CLI.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIRECT_URI, sleep } from './flows.js';
import { send, signIn } from './from-address.js';
import { startTestServer, type TestClient, type TestServer } from './helpers.js';
import { runTessera } from './cli-kit.js';
import { lastAuditSeq } from '@tessera/test-utils';

const ATTACKER = '127.0.0.2';
const VICTIM = '127.0.0.1';

describe('sign-in throttling (issue 9, defect 5)', () => {
  let server: TestServer;
  let c: TestClient;

  beforeAll(async () => {
    server = await startTestServer({ legacyGrants: ['password'] });
    c = await server.createClient({ grantTypes: ['password', 'authorization_code'], redirectUris: [REDIRECT_URI] });
  });
  afterAll(() => server?.close());

  const grant = (from: string, username: string, password: string) =>
    send(`${server.url}/token`, from, { form: { grant_type: 'password', username, password }, headers: { authorization: c.basic } });
  const authorize = () => `/authorize?${new URLSearchParams({ response_type: 'code', client_id: c.id, redirect_uri: REDIRECT_URI, scope: 'read' })}`;

  it('password grant: past 5 failures, 429 slow_down with Retry-After and no-store, before the password is even checked', async () => {
    const user = await server.createUser();
    for (let i = 0; i < 5; i++) expect((await grant(ATTACKER, user.username, `wrong ${i}`)).body.error).toBe('invalid_grant');
    const refused = await grant(ATTACKER, user.username, 'wrong again');
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe('slow_down');
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.headers['cache-control']).toBe('no-store');
    // Even the right password waits out the back-off from the address that was failing.
    expect((await grant(ATTACKER, user.username, user.password)).status).toBe(429);
  });

  it('the back-off grows exponentially: 1 s, then 2 s, then 4 s', async () => {
    const user = await server.createUser();
    const from = '127.0.0.3';
    for (let i = 0; i < 5; i++) await grant(from, user.username, `wrong ${i}`);
    const waits: string[] = [];
    for (let round = 0; round < 3; round++) {
      const refused = await grant(from, user.username, 'still wrong');
      expect(refused.status).toBe(429);
      const wait = String(refused.headers['retry-after']);
      waits.push(wait);
      if (round < 2) {
        await sleep(Number(wait) * 1000 + 50);
        // One more failure once the wait is over doubles it.
        expect((await grant(from, user.username, 'wrong after waiting')).body.error).toBe('invalid_grant');
      }
    }
    expect(waits).toEqual(['1', '2', '4']);
  });

  it('a victim is not locked out: while an attacker is throttled on the account, the right password from an address the victim signed in from before signs in', async () => {
    const victim = await server.createUser();
    expect((await grant(VICTIM, victim.username, victim.password)).status).toBe(200);
    for (let i = 0; i < 12; i++) await grant(ATTACKER, victim.username, `guess ${i}`);
    expect((await grant(ATTACKER, victim.username, 'guess')).status).toBe(429);
    expect((await grant(VICTIM, victim.username, victim.password)).status).toBe(200);
    const page = await signIn(server.url, VICTIM, victim.username, victim.password, authorize());
    expect(page.status).toBe(303);
    expect(page.headers['set-cookie']).toBeDefined();
  });

  it('login page: throttled attempts get 429, Retry-After and a readable message', async () => {
    const user = await server.createUser();
    const from = '127.0.0.4';
    for (let i = 0; i < 5; i++) expect((await signIn(server.url, from, user.username, `wrong ${i}`, authorize())).status).toBe(401);
    const page = await signIn(server.url, from, user.username, 'wrong', authorize());
    expect(page.status).toBe(429);
    expect(page.headers['retry-after']).toMatch(/^\d+$/);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toMatch(/Too many failed sign-in attempts\. Wait \d+ seconds?, then try again\./);
  });

  it('per address: 20 failures over many usernames throttle that address, and only that one', async () => {
    const from = '127.0.0.5';
    for (let i = 0; i < 20; i++) await grant(from, `nobody-${i}`, 'wrong');
    const refused = await grant(from, 'nobody-else', 'wrong');
    expect(refused.status).toBe(429);
    const user = await server.createUser();
    expect((await grant(from, user.username, user.password)).status).toBe(429);
    expect((await grant('127.0.0.6', user.username, user.password)).status).toBe(200);
  });

  it('failed sign-ins are audited with username and client address, never the password; refusals are counted, not recorded', async () => {
    const user = await server.createUser();
    const from = '127.0.0.7';
    const before = await lastAuditSeq(server.tessera.store);
    const secret = 'my-secret-guess-';
    for (let i = 0; i < 5; i++) await grant(from, user.username, `${secret}${i}`);
    for (let i = 0; i < 30; i++) expect((await grant(from, user.username, `${secret}x${i}`)).status).toBe(429);
    // Once the back-off is over, the next failure is recorded with the 30 refusals counted on it.
    await sleep(1100);
    expect((await grant(from, user.username, `${secret}late`)).status).toBe(400);
    // Six failures hold the account back 2 s, from every address it has not signed in from.
    await sleep(2100);
    await signIn(server.url, '127.0.0.8', user.username, `${secret}page`, authorize());
    const records = (await server.tessera.store.readAudit(before, 1000)).filter((r) => r.event === 'user.sign_in_failed');
    expect(records).toHaveLength(7);
    expect(records[0]).toMatchObject({ userId: user.id, endpoint: '/token', reason: 'wrong password', data: { username: user.username, address: from, failures: 1, refused_since_last: 0 } });
    expect(records[5]?.data).toMatchObject({ address: from, failures: 6, refused_since_last: 30 });
    expect(records[6]).toMatchObject({ endpoint: '/login', data: { username: user.username, address: '127.0.0.8' } });
    expect(JSON.stringify(records)).not.toContain(secret);
  });

  it('RFC 6749 §5.2: many concurrent guesses are refused like a sequence of them, never with a 5xx', async () => {
    const user = await server.createUser();
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => grant('127.0.0.9', user.username, `burst ${i}`)));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    // Only the free attempts reach the password check; the rest wait.
    expect(statuses.filter((s) => s === 400).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(25);
  });
});

describe('a shared address that starts failing (issue 9)', () => {
  it('logs one warning naming the address and trustForwardedFor, while users who signed in from it still can', async () => {
    const lines: string[] = [];
    const server = await startTestServer({ legacyGrants: ['password'], signInAddressFreeFailures: 3 }, { logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }) });
    try {
      const c = await server.createClient({ grantTypes: ['password'] });
      const grant = (username: string, password: string) =>
        send(`${server.url}/token`, '127.0.0.10', { form: { grant_type: 'password', username, password }, headers: { authorization: c.basic } });
      const user = await server.createUser();
      expect((await grant(user.username, user.password)).status).toBe(200);
      for (let i = 0; i < 5; i++) await grant(`someone-${i}`, 'wrong password');
      expect((await grant(user.username, user.password)).status).toBe(200);
      const warnings = lines.map((l) => JSON.parse(l)).filter((l) => String(l.msg).startsWith('sign-in failures from one client address'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40, address: '127.0.0.10', failures: 3, trustForwardedFor: false });
      expect(lines.join('')).not.toContain('wrong password');
    } finally {
      await server.close();
    }
  });
});

describe('password policy of user create and user set-password (NIST SP 800-63B)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  const tessera = (args: string[], input: string) => runTessera(server.db, args, input);

  it('refuses a short, an overlong and a common password with a clear message and exit 2; accepts a long passphrase', async () => {
    const short = await tessera(['user', 'create', '--username', 'pat', '--password-stdin'], 'short');
    expect(short).toMatchObject({ code: 2, stdout: '' });
    expect(short.stderr).toMatch(/too short: use at least 8 characters/);
    const long = await tessera(['user', 'create', '--username', 'pat', '--password-stdin'], 'x'.repeat(257));
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/too long: use at most 256 characters/);
    for (const common of ['password1', 'Iloveyou', 'qwertyuiop']) {
      const refused = await tessera(['user', 'create', '--username', 'pat', '--password-stdin'], common);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/most commonly used/);
      expect(refused.stderr).not.toContain(common);
    }
    expect((await server.tessera.store.getUserByName('pat'))).toBeUndefined();
    expect((await tessera(['user', 'create', '--username', 'pat', '--password-stdin'], 'x'.repeat(64))).code).toBe(0);
    const weak = await tessera(['user', 'set-password', 'pat', '--password-stdin'], '12345678');
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/most commonly used/);
    expect((await tessera(['user', 'set-password', 'pat', '--password-stdin'], 'purple tractor evening')).code).toBe(0);
  });
});

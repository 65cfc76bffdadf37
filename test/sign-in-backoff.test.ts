/**
 * The sign-in throttle's rules over time (issue 9: no lockout an attacker can trigger against a
 * victim), through the engine's authenticateUser on real SQLite with a clock the test moves, so
 * that five-minute back-offs take no five minutes. Outcomes are 'ok', 'wrong' or 'wait N' (429
 * with Retry-After N seconds).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditRecord, openTessera, type ServerConfig, type Tessera } from '@tessera/server';
import { afterEach, describe, expect, it } from 'vitest';
import { lastAuditSeq } from '@tessera/test-utils';

const PASSWORD = 'correct horse battery staple';
const opened: Array<{ t: Tessera; dir: string }> = [];
afterEach(async () => {
  for (const { t, dir } of opened.splice(0)) {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A Tessera on a fresh data file whose clock moves only with `advance`. */
async function setUp(config: Partial<ServerConfig> = {}) {
  let clock = Date.UTC(2026, 0, 1);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-backoff-'));
  const t = await openTessera({ db: join(dir, 'tessera.db'), config, synchronous: 'normal', now: () => clock });
  opened.push({ t, dir });
  const attempt = async (username: string, password: string, address: string): Promise<string> => {
    try {
      return (await t.engine.authenticateUser(username, password, { address, endpoint: '/token' })) ? 'ok' : 'wrong';
    } catch (err) {
      const { status, headers } = err as { status?: number; headers?: Record<string, string> };
      if (status === 429) return `wait ${headers?.['retry-after']}`;
      throw err;
    }
  };
  const user = async (name: string) => t.engine.createUser(name, PASSWORD, { actor: 'test' });
  const failures = async (since: number): Promise<AuditRecord[]> => (await t.store.readAudit(since, 1000)).filter((r) => r.event === 'user.sign_in_failed');
  return { t, attempt, user, failures, advance: (ms: number) => { clock += ms; } };
}

const waited = (outcome: string) => (outcome.startsWith('wait ') ? Number(outcome.slice(5)) : 0);

describe('sign-in back-off: no lockout an attacker can trigger against a victim', () => {
  it('an address the account signed in from is never held back by others’ failures, even after a typo there', async () => {
    const { attempt, user, advance } = await setUp();
    await user('alice');
    const HOME = '10.0.0.1';
    expect(await attempt('alice', PASSWORD, HOME)).toBe('ok');
    // 15 guesses from 15 addresses, each after the account's back-off: it reaches the 300 s cap.
    for (let i = 1; i <= 15; i++) {
      advance(301_000);
      expect(await attempt('alice', `guess ${i}`, `10.9.0.${i}`)).toBe('wrong');
    }
    // One attacker guess per back-off keeps the account's back-off running, forever if he likes.
    for (let round = 0; round < 3; round++) {
      advance(301_000);
      expect(await attempt('alice', `guess again ${round}`, `10.9.1.${round}`)).toBe('wrong');
      expect(await attempt('alice', 'a typo', HOME)).toBe('wrong');
      advance(2000);
      expect(await attempt('alice', PASSWORD, HOME)).toBe('ok');
    }
  });

  it('a known address is slowed by its own failures, with its own back-off', async () => {
    const { attempt, user, advance } = await setUp();
    await user('alice');
    expect(await attempt('alice', PASSWORD, '10.0.0.1')).toBe('ok');
    for (let i = 0; i < 5; i++) expect(await attempt('alice', `typo ${i}`, '10.0.0.1')).toBe('wrong');
    expect(await attempt('alice', PASSWORD, '10.0.0.1')).toBe('wait 1');
    advance(1001);
    expect(await attempt('alice', PASSWORD, '10.0.0.1')).toBe('ok');
  });

  it('one failing client on a shared address (NAT, proxy) does not hold back the users who signed in from it before', async () => {
    const { attempt, user } = await setUp({ signInAddressFreeFailures: 3 });
    await user('bob');
    await user('carol');
    const NAT = '10.1.0.1';
    expect(await attempt('bob', PASSWORD, NAT)).toBe('ok');
    for (let i = 0; i < 3; i++) expect(await attempt(`ghost-${i}`, 'wrong', NAT)).toBe('wrong');
    expect(waited(await attempt('ghost-x', 'wrong', NAT))).toBeGreaterThan(0);
    expect(await attempt('bob', PASSWORD, NAT)).toBe('ok');
    // Someone who never signed in from there waits out the address's back-off like everyone else.
    expect(waited(await attempt('carol', PASSWORD, NAT))).toBeGreaterThan(0);
  });

  it('an account in back-off holds back every address but the known ones: fresh addresses get no free guesses', async () => {
    const { attempt, user, advance } = await setUp();
    await user('alice');
    expect(await attempt('alice', PASSWORD, '10.0.0.1')).toBe('ok');
    for (let i = 1; i <= 6; i++) {
      advance(301_000);
      expect(await attempt('alice', `guess ${i}`, `10.9.0.${i}`)).toBe('wrong');
    }
    // Six failures: a 2 s back-off on the account, for an address that never tried it too.
    expect(await attempt('alice', 'fresh guess', '10.9.9.9')).toBe('wait 2');
    expect(await attempt('alice', 'fresh guess', '2001:db8:77::1')).toBe('wait 2');
    expect(await attempt('alice', PASSWORD, '10.0.0.1')).toBe('ok');
    // The trade-off: the victim from a new address waits too (never longer than the cap).
    const wait = waited(await attempt('alice', PASSWORD, '10.0.0.2'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(300);
    advance(wait * 1000);
    expect(await attempt('alice', PASSWORD, '10.0.0.2')).toBe('ok');
  });

  it('signInFreeFailures 0 and signInAddressFreeFailures 0 turn those counters off (settings: 0 = off)', async () => {
    const { attempt, user } = await setUp({ signInFreeFailures: 0, signInAddressFreeFailures: 0 });
    await user('alice');
    for (let i = 0; i < 6; i++) expect(await attempt('alice', `guess ${i}`, '10.9.0.1')).toBe('wrong');
    for (let i = 0; i < 2; i++) expect(await attempt(`ghost-${i}`, 'guess', '10.9.0.1')).toBe('wrong');
    expect(await attempt('alice', PASSWORD, '10.9.0.1')).toBe('ok');
  });
});

describe('audit of failed sign-ins', () => {
  it('an unknown username is recorded as a short digest, never as typed (it may be a password in the wrong box)', async () => {
    const { t, attempt, user, failures } = await setUp();
    await user('alice');
    const before = await lastAuditSeq(t.store);
    const typed = 'Tr0ub4dor&3-in-the-username-box';
    expect(await attempt(typed, 'x', '10.0.0.1')).toBe('wrong');
    expect(await attempt(typed, 'y', '10.0.0.1')).toBe('wrong');
    expect(await attempt('someone-else', 'z', '10.0.0.1')).toBe('wrong');
    expect(await attempt('alice', 'wrong', '10.0.0.1')).toBe('wrong');
    const records = await failures(before);
    expect(records).toHaveLength(4);
    const [first, second, other, known] = records.map((r) => r.data as Record<string, unknown>);
    expect(first).toMatchObject({ unknownUser: true, usernameDigest: expect.stringMatching(/^[0-9a-f]{8}$/) });
    expect(first).not.toHaveProperty('username');
    expect(second?.usernameDigest).toBe(first?.usernameDigest);
    expect(other?.usernameDigest).not.toBe(first?.usernameDigest);
    expect(known).toMatchObject({ username: 'alice' });
    expect(known).not.toHaveProperty('unknownUser');
    expect(JSON.stringify(records)).not.toContain('Tr0ub4dor');
  });

  it('IPv6 clients are throttled and audited by their /64, however the address is written', async () => {
    const { t, attempt, failures } = await setUp();
    const before = await lastAuditSeq(t.store);
    const addresses = ['2001:db8:0:0::1', '2001:db8::5', '2001:DB8:0000:0:ffff::9', '2001:0:0:5::1', '2001::1', '::ffff:192.0.2.7', '64:ff9b::192.0.2.7'];
    for (const [i, address] of addresses.entries()) expect(await attempt(`nobody-${i}`, 'x', address)).toBe('wrong');
    const keys = (await failures(before)).map((r) => (r.data as { address: string }).address);
    expect(keys).toEqual(['2001:db8:0:0::/64', '2001:db8:0:0::/64', '2001:db8:0:0::/64', '2001:0:0:5::/64', '2001:0:0:0::/64', '192.0.2.7', '64:ff9b:0:0::/64']);
  });
});

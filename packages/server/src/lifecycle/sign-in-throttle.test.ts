import { describe, expect, it } from 'vitest';
import { addressKey, SignInThrottle, type ThrottleSettings } from './sign-in-throttle.js';

const make = (settings: Partial<ThrottleSettings>) => {
  const clock = { now: 0 };
  const throttle = new SignInThrottle({ free: 5, addressFree: 20, base: 1000, max: 300_000, window: 6 * 3600_000, ...settings }, () => clock.now);
  /** Runs an attempt to its end; the wait if it was refused. */
  const run = (account: string, address: string, outcome: 'fail' | 'ok' | 'cancel'): number => {
    const begun = throttle.begin(account, address);
    if ('wait' in begun) return begun.wait;
    if (outcome === 'cancel') throttle.cancel(begun.attempt);
    else throttle.end(begun.attempt, outcome === 'ok');
    return 0;
  };
  return { throttle, run, clock };
};

describe('the throttle’s state cannot be flushed', () => {
  it('attempts that never check a password (hashing queue full) leave no entries: they cannot evict a running back-off', () => {
    const { run } = make({ maxEntries: 10 });
    for (let i = 0; i < 5; i++) expect(run('alice', 'A', 'fail')).toBe(0);
    expect(run('alice', 'A', 'fail')).toBeGreaterThan(0);
    for (let i = 0; i < 100; i++) run(`fresh-${i}`, 'B', 'cancel');
    expect(run('alice', 'A', 'fail')).toBeGreaterThan(0);
  });

  it('real failures with fresh names evict entries without a running back-off first, never a running back-off', () => {
    const { run } = make({ maxEntries: 8 });
    for (let i = 0; i < 5; i++) run('alice', 'A', 'fail');
    for (let i = 0; i < 30; i++) expect(run(`fresh-${i}`, `C${i % 3}`, 'fail')).toBe(0);
    expect(run('alice', 'A', 'fail')).toBeGreaterThan(0);
  });

  it('a map full of running back-offs refuses new attempts (429) rather than forget one', () => {
    const { run, clock } = make({ maxEntries: 3, free: 1, addressFree: 1 });
    run('alice', 'A', 'fail');
    expect(run('bob', 'B', 'fail')).toBeGreaterThan(0);
    expect(run('alice', 'A', 'fail')).toBeGreaterThan(0);
    // Once the back-offs have run out their entries may go.
    clock.now += 1001;
    expect(run('bob', 'B', 'fail')).toBe(0);
  });
});

describe('known account×address pairs', () => {
  it('stay known past the failure window (30 days after the last sign-in) while their old failures are forgotten', () => {
    const { run, clock } = make({ free: 2, window: 3600_000 });
    expect(run('alice', 'HOME', 'ok')).toBe(0);
    run('alice', 'HOME', 'fail');
    run('alice', 'HOME', 'fail');
    expect(run('alice', 'HOME', 'ok')).toBeGreaterThan(0);
    // Others' failures put the account in back-off; a day later the old typos are forgotten.
    clock.now += 24 * 3600_000;
    for (let i = 0; i < 6; i++) run('alice', `X${i}`, 'fail');
    expect(run('alice', 'NEW', 'ok')).toBeGreaterThan(0);
    expect(run('alice', 'HOME', 'fail')).toBe(0);
    expect(run('alice', 'HOME', 'ok')).toBe(0);
    // 31 days without a sign-in from there: an address like any other.
    clock.now += 31 * 24 * 3600_000;
    for (let i = 0; i < 6; i++) run('alice', `Y${i}`, 'fail');
    expect(run('alice', 'HOME', 'ok')).toBeGreaterThan(0);
  });
});

describe('addressKey', () => {
  it('keys IPv6 addresses by their /64 after expanding :: and embedded IPv4; IPv4 (and IPv4-mapped) by the address', () => {
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:db8:0:0:1:2:3:4')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:0DB8:0000::')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:0:0:7::1')).toBe('2001:0:0:7::/64');
    expect(addressKey('2001::7:0:0:1')).toBe('2001:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('64:ff9b::192.0.2.7')).toBe('64:ff9b:0:0::/64');
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey(undefined)).toBe('unknown');
  });
});

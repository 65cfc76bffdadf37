/**
 * Password-guessing throttle for the login page and the password grant, consulted before any
 * password is hashed. Three counters of failed attempts, each forgotten after a quiet window:
 *
 *   address          every account from one client address (IPv6 by its /64);
 *   account×address  one account from one address;
 *   account          one account from anywhere.
 *
 * Past its free failures a counter imposes an exponential back-off (base · 2^(excess), capped at
 * `max`): attempts during it get 429 with Retry-After and cost no hashing. The account counter
 * holds back only addresses that have failed on that account: someone guessing a victim's password
 * can slow the victim's sign-in only by as much as the victim's own failures earned (capped), never
 * lock the account, and a correct password from an address that has not been failing always
 * proceeds. Attempts in flight count as failures until they end, and an account that has been
 * failing takes one attempt at a time from one address, so a burst of concurrent guesses is
 * refused like a sequence. State is per process and bounded (oldest entries forgotten).
 */
export interface ThrottleSettings {
  free: number;
  addressFree: number;
  /** Milliseconds. */
  base: number;
  max: number;
  window: number;
  maxEntries?: number;
}

interface Entry {
  /** account×address entries: the last attempt from this address signed in. */
  good?: boolean;
  failures: number;
  pending: number;
  last: number;
  /** Attempts refused since the last audited failure (reported with the next one). */
  refused: number;
}

/**
 * How far an attempt's address is trusted, for the order of hashing: 'trusted' signed in to this
 * account last time, 'clean' has no failures, 'suspect' has.
 */
export type Standing = 'trusted' | 'clean' | 'suspect';

/** An attempt let through: end it with its outcome. */
export interface Attempt {
  readonly keys: readonly string[];
}

const DEFAULT_MAX_ENTRIES = 100_000;

/** The throttling key of a client address: IPv6 addresses by their /64, which one host usually holds whole. */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  if (!address.includes(':') || address.startsWith('::ffff:')) return address.replace(/^::ffff:/, '');
  const [head] = address.split('::');
  const groups = (head ?? '').split(':');
  return `${groups.slice(0, 4).join(':')}::/64`;
}

export class SignInThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly settings: ThrottleSettings, private readonly now: () => number = Date.now) {}

  /**
   * Milliseconds to wait before an attempt for `account` from `address` may run; or the attempt,
   * begun (end it with `end` or `cancel`), and whether its address has been failing.
   */
  begin(account: string, address: string): { wait: number } | { attempt: Attempt; standing: Standing } {
    const { free, addressFree } = this.settings;
    const keys = { address: `i ${address}`, pair: `p ${address} ${account}`, account: `a ${account}` };
    const pair = this.get(keys.pair);
    const byAddress = this.get(keys.address);
    const waits = [this.waitOf(byAddress, addressFree), this.waitOf(pair, free)];
    // Once the account has been failing, one attempt at a time per address: a person needs no more.
    if (pair && pair.pending > 0 && (this.get(keys.account)?.failures ?? 0) > 0) waits.push(this.settings.base);
    // An address that has failed on this account waits out the account's back-off too.
    if (pair && pair.failures > 0) waits.push(this.waitOf(this.get(keys.account), free, false));
    const wait = Math.max(...waits);
    if (wait > 0) {
      const entry = this.touch(keys.address);
      entry.refused++;
      return { wait };
    }
    for (const key of [keys.address, keys.pair]) this.touch(key).pending++;
    const standing: Standing = pair?.good ? 'trusted' : (byAddress?.failures ?? 0) > 0 ? 'suspect' : 'clean';
    return { attempt: { keys: [keys.address, keys.pair, keys.account] }, standing };
  }

  /** Ends an attempt that never got to check the password. */
  cancel(attempt: Attempt): void {
    for (const key of attempt.keys.slice(0, 2)) {
      const entry = this.entries.get(key);
      if (entry) entry.pending = Math.max(0, entry.pending - 1);
    }
  }

  /**
   * Ends an attempt. A failure counts against every key and returns the account×address count and
   * the refusals since the previous failure; a success forgets the account's failures.
   */
  end(attempt: Attempt, ok: boolean): { failures: number; refused: number } {
    const [address, pair, account] = attempt.keys as [string, string, string];
    this.cancel(attempt);
    if (ok) {
      // Remembered as an address this account signs in from (until forgotten like failures).
      Object.assign(this.touch(pair), { good: true, failures: 0, last: this.now() });
      this.entries.delete(account);
      return { failures: 0, refused: 0 };
    }
    const at = this.now();
    for (const key of [address, pair, account]) {
      const entry = this.touch(key);
      entry.failures++;
      entry.last = at;
      entry.good = false;
    }
    const byAddress = this.touch(address);
    const refused = byAddress.refused;
    byAddress.refused = 0;
    return { failures: this.touch(pair).failures, refused };
  }

  /** The back-off an entry imposes now, in ms; with `pending`, attempts in flight count as failures. */
  private waitOf(entry: Entry | undefined, free: number, pending = true): number {
    if (!entry) return 0;
    const { base, max } = this.settings;
    if (entry.failures >= free) {
      const delay = Math.min(base * 2 ** (entry.failures - free), max);
      const wait = entry.last + delay - this.now();
      if (wait > 0) return wait;
      // Back-off over: one attempt at a time until the next outcome.
      return pending && entry.pending > 0 ? base : 0;
    }
    return pending && entry.failures + entry.pending >= free ? base : 0;
  }

  /** The live entry for a key, forgetting it once its failures are older than the window. */
  private get(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.pending === 0 && this.now() - entry.last > this.settings.window) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The entry for a key, created if needed and moved to the young end (eviction takes the oldest). */
  private touch(key: string): Entry {
    const entry = this.get(key) ?? { failures: 0, pending: 0, last: this.now(), refused: 0 };
    this.entries.delete(key);
    if (this.entries.size >= (this.settings.maxEntries ?? DEFAULT_MAX_ENTRIES)) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, entry);
    return entry;
  }
}

/**
 * Password-guessing throttle for the login page and the password grant, consulted before any
 * password is hashed (device-verification.ts runs a second instance against user-code guessing,
 * with the signed-in user as the account). Three counters of failed attempts, each forgotten after a quiet window:
 *
 *   address          every account from one client address (IPv6 by its /64);
 *   account×address  one account from one address;
 *   account          one account from anywhere.
 *
 * Past its free failures a counter imposes an exponential back-off (base · 2^(excess), capped at
 * `max`): attempts during it get 429 with Retry-After and cost no hashing. A free count of 0
 * turns that counter off.
 *
 * An account×address pair that signed in before is remembered as known (for REMEMBER_KNOWN after
 * its last sign-in; failures never clear it). A known pair is slowed only by its own failures:
 * neither the account's back-off (others guessing this account) nor the address's (another client
 * failing behind the same NAT or proxy) holds it back, so no attacker can lock a victim out of the
 * places they sign in from. Every other attempt on an account in back-off waits it out, from any
 * address: fresh addresses get no free guesses at it. The trade-off: from an address the victim
 * never signed in from, they may wait up to `max` while someone is guessing their password.
 *
 * Attempts in flight are tracked apart from the counters and count as failures until they end;
 * an account that has been failing takes one attempt at a time from one address (and, once its
 * back-off is over, one at a time from all but its known addresses), so a burst of concurrent
 * guesses from one address or many is refused like a sequence. Counters are created only by a real outcome (a
 * checked password), never by a refused attempt. State is per process and bounded: when full, the
 * oldest entries without a running back-off are forgotten (plain ones before known pairs); a
 * running back-off is never forgotten — if nothing else can go, new attempts get 429 instead.
 */
import type { ServerConfig } from '../config.js';

export interface ThrottleSettings {
  /** Free failures per account×address and per account; 0 = that counter off. */
  free: number;
  /** Free failures per address; 0 = off. */
  addressFree: number;
  /** Milliseconds. */
  base: number;
  max: number;
  window: number;
  maxEntries?: number;
  /** Called when an address's failures over all accounts first start its back-off (once per failure window). */
  onAddressThrottled?: (address: string) => void;
}

interface Entry {
  failures: number;
  /** Time of the last failure (or creation). */
  last: number;
  /** Account×address entries: signed in from here; remembered until this time. */
  knownUntil?: number;
  /** Address entries: attempts refused since the last audited failure (reported with the next one). */
  refused: number;
}

/**
 * How far an attempt's address is trusted, for the order of hashing: 'trusted' signed in to this
 * account before, 'clean' has no failures, 'suspect' has.
 */
export type Standing = 'trusted' | 'clean' | 'suspect';

/** An attempt let through: end it with its outcome. */
export interface Attempt {
  readonly keys: readonly [address: string, pair: string, account: string];
}

export type Begun = { wait: number } | { attempt: Attempt; standing: Standing };
export type Ended = { failures: number; refused: number };

/**
 * A throttle as the sign-in and device-code checks use it: this process's SignInThrottle, or,
 * under `tessera serve --workers`, the primary's, asked over IPC (cluster.ts), so that every worker
 * counts the same failures and knows the same known pairs.
 */
export interface Throttle {
  begin(account: string, address: string): Begun | Promise<Begun>;
  cancel(attempt: Attempt): void;
  end(attempt: Attempt, ok: boolean): Ended | Promise<Ended>;
}

/** The two throttles of an engine: sign-in passwords, and device user codes (RFC 8628 §5.1). */
export type ThrottleKind = 'sign-in' | 'device-code';

/** The throttle settings, from the server's. */
export function throttleSettings(
  config: Pick<ServerConfig, 'signInFreeFailures' | 'signInAddressFreeFailures' | 'signInBackoff' | 'signInBackoffMax' | 'signInFailureWindow'>,
  onAddressThrottled?: (address: string) => void,
): ThrottleSettings {
  return {
    free: config.signInFreeFailures,
    addressFree: config.signInAddressFreeFailures,
    base: config.signInBackoff * 1000,
    max: config.signInBackoffMax * 1000,
    window: config.signInFailureWindow * 1000,
    ...(onAddressThrottled ? { onAddressThrottled } : {}),
  };
}

const DEFAULT_MAX_ENTRIES = 100_000;
/** How long a sign-in from an address keeps that account×address known: 30 days. */
export const REMEMBER_KNOWN = 30 * 24 * 3600 * 1000;
/** Entries looked at, oldest first, to find one to forget when full. */
const EVICTION_SCAN = 1024;

/** The 8 groups of an IPv6 address (any '::' and embedded IPv4 expanded); undefined if not one. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.split('%')[0] ?? '';
  const v4 = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(2).map(Number) as [number, number, number, number];
    text = `${v4[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string | undefined) => (s ? s.split(':') : []);
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...tail].map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? Number.parseInt(g, 16) : Number.NaN));
  return groups.some(Number.isNaN) ? undefined : groups;
}

/** The throttling key of a client address: IPv6 addresses by their /64, which one host usually holds whole. */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  if (!address.includes(':')) return address;
  const groups = ipv6Groups(address);
  if (!groups) return address.slice(0, 64);
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address itself.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] ?? 0, groups[7] ?? 0].flatMap((g) => [g >> 8, g & 0xff]).join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

export class SignInThrottle implements Throttle {
  private readonly entries = new Map<string, Entry>();
  /** Attempts in flight, by address, account×address and account key. */
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly settings: ThrottleSettings, private readonly now: () => number = Date.now) {}

  /**
   * Milliseconds to wait before an attempt for `account` from `address` may run; or the attempt,
   * begun (end it with `end` or `cancel`), and how far its address is trusted.
   */
  begin(account: string, address: string): Begun {
    const { free, addressFree, base } = this.settings;
    const keys = [`i ${address}`, `p ${address} ${account}`, `a ${account}`] as const;
    const [byAddress, pair, byAccount] = keys.map((key) => this.get(key));
    const known = (pair?.knownUntil ?? 0) > this.now();
    const pending = (key: string) => this.inFlight.get(key) ?? 0;
    // A pair is always slowed by its own failures.
    const waits = [this.waitOf(pair, pending(keys[1]), free)];
    if (!known) {
      waits.push(this.waitOf(byAddress, pending(keys[0]), addressFree));
      // An account in back-off holds back every address but the ones it signed in from.
      waits.push(this.waitOf(byAccount, pending(keys[2]), free));
    }
    // Once the account has been failing, one attempt at a time per address: a person needs no more.
    if (free > 0 && pending(keys[1]) > 0 && (byAccount?.failures ?? 0) > 0) waits.push(base);
    // Full of running back-offs: refuse rather than forget one.
    const full = this.entries.size >= (this.settings.maxEntries ?? DEFAULT_MAX_ENTRIES);
    if (full && keys.some((key) => !this.entries.has(key)) && this.evictable() === undefined) waits.push(base);
    const wait = Math.max(...waits);
    if (wait > 0) {
      if (byAddress) byAddress.refused++;
      return { wait };
    }
    for (const key of keys) this.inFlight.set(key, pending(key) + 1);
    const standing: Standing = known ? 'trusted' : (byAddress?.failures ?? 0) > 0 ? 'suspect' : 'clean';
    return { attempt: { keys }, standing };
  }

  /** Ends an attempt that never got to check the password: it leaves no trace. */
  cancel(attempt: Attempt): void {
    for (const key of attempt.keys) {
      const left = (this.inFlight.get(key) ?? 0) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
    }
  }

  /**
   * Ends an attempt. A failure counts against every key and returns the account×address count and
   * the refusals from the address since its previous failure; a success makes the pair known and
   * forgets its failures (the account's run down by themselves, so that the victim's sign-in hands
   * an attacker no fresh free guesses).
   */
  end(attempt: Attempt, ok: boolean): Ended {
    const [address, pair, account] = attempt.keys;
    this.cancel(attempt);
    const at = this.now();
    if (ok) {
      Object.assign(this.touch(pair), { knownUntil: at + REMEMBER_KNOWN, failures: 0, last: at });
      return { failures: 0, refused: 0 };
    }
    const [byAddress, byPair] = [address, pair, account].map((key) => {
      const entry = this.touch(key);
      entry.failures++;
      entry.last = at;
      return entry;
    }) as [Entry, Entry, Entry];
    const refused = byAddress.refused;
    byAddress.refused = 0;
    if (byAddress.failures === this.settings.addressFree) this.settings.onAddressThrottled?.(address.slice(2));
    return { failures: byPair.failures, refused };
  }

  /** The back-off an entry imposes now, in ms, with `pending` attempts in flight counted as failures; none if `free` is 0 (off). */
  private waitOf(entry: Entry | undefined, pending: number, free: number): number {
    if (free === 0) return 0;
    const failures = entry?.failures ?? 0;
    const { base, max } = this.settings;
    if (entry && failures >= free) {
      const wait = entry.last + Math.min(base * 2 ** (failures - free), max) - this.now();
      if (wait > 0) return wait;
      // Back-off over: one attempt at a time until the next outcome.
      return pending > 0 ? base : 0;
    }
    return failures + pending >= free ? base : 0;
  }

  /** Whether an entry is still holding anyone back. */
  private backingOff(key: string, entry: Entry): boolean {
    const { free, addressFree, base, max } = this.settings;
    const threshold = key.startsWith('i ') ? addressFree : free;
    return threshold > 0 && entry.failures >= threshold && entry.last + Math.min(base * 2 ** (entry.failures - threshold), max) > this.now();
  }

  /** Whether an entry has nothing left to remember: failures past the window, and not a known pair. */
  private expired(entry: Entry): boolean {
    const at = this.now();
    return at - entry.last > this.settings.window && (entry.knownUntil ?? 0) <= at;
  }

  /** The live entry for a key, forgetting it once expired (a known pair only its old failures). */
  private get(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && this.expired(entry)) {
      this.entries.delete(key);
      return undefined;
    }
    if (entry && this.now() - entry.last > this.settings.window) entry.failures = 0;
    return entry;
  }

  /**
   * The key of an entry that may be forgotten to make room, among the oldest: an expired one, else
   * a plain one, else a known pair without failures in back-off; never a running back-off.
   * Running back-offs looked at move to the young end, so the next look goes further.
   */
  private evictable(): string | undefined {
    let knownPair: string | undefined;
    const looked: Array<[string, Entry]> = [];
    let found: string | undefined;
    for (const [key, entry] of this.entries) {
      if (looked.length >= EVICTION_SCAN) break;
      if (this.expired(entry)) {
        found = key;
        break;
      }
      if (this.backingOff(key, entry)) {
        looked.push([key, entry]);
        continue;
      }
      if ((entry.knownUntil ?? 0) <= this.now()) {
        found = key;
        break;
      }
      knownPair ??= key;
      looked.push([key, entry]);
    }
    for (const [key, entry] of looked) {
      if (key === knownPair && found === undefined) continue;
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return found ?? knownPair;
  }

  /** The entry for a key, created if needed (making room if it can) and moved to the young end. */
  private touch(key: string): Entry {
    const entry = this.get(key) ?? { failures: 0, last: this.now(), refused: 0 };
    this.entries.delete(key);
    if (this.entries.size >= (this.settings.maxEntries ?? DEFAULT_MAX_ENTRIES)) {
      // Never a running back-off: if none can go, the map grows by the attempts in flight at most.
      const victim = this.evictable();
      if (victim !== undefined) this.entries.delete(victim);
    }
    this.entries.set(key, entry);
    return entry;
  }
}

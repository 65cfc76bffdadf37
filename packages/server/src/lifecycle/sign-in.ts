/**
 * Checking a user's password, defended against guessing: the throttle (sign-in-throttle.ts) is
 * asked before any hashing, the hashing itself runs a bounded number at a time with a bounded
 * queue (addresses the account signed in from go first, then those that have not been failing),
 * and each failure is audited — with the
 * username and client address, never the password. An unknown username is not recorded as typed
 * (it may be a password typed into the wrong box): only a short digest of it, enough to tell
 * repeated attempts with one name apart from attempts with many. Refused attempts are not audited one by one:
 * each failure record counts the refusals from its address since the previous one, so a flood
 * adds records only as fast as the back-off lets failures through.
 */
import { createHash } from 'node:crypto';
import { OAuthError } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { verifyPassword } from '../secrets.js';
import type { Store, UserRecord } from '../store/types.js';
import { addressKey, type Standing, type Throttle } from './sign-in-throttle.js';

/** Where an attempt came from, for the throttle and the audit record. */
export interface SignInSource {
  address: string | undefined;
  endpoint: string;
}

/** An scrypt hash of a random password: unknown users cost the same time as known ones. */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
/** Usernames longer than this are cut in throttle keys and audit records (bodies may be 64 KiB). */
const NAME_MAX = 128;

/** 429 with Retry-After (RFC 9110 §10.2.3), in seconds. */
export function slowDown(waitMs: number, why: string): OAuthError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new OAuthError('slow_down', `${why}; retry after ${seconds} s`, { status: 429, headers: { 'retry-after': String(seconds) } });
}

class QueueFull extends Error {}

/** What the audit keeps of a username no user has: a 32-bit SHA-256 prefix, never the text. */
const unknownName = (typed: string) => ({ unknownUser: true, usernameDigest: createHash('sha256').update(typed).digest('hex').slice(0, 8) });

const TIERS: readonly Standing[] = ['trusted', 'clean', 'suspect'];

/**
 * Runs at most `concurrency` tasks at once; at most `queueMax` wait, in tiers: addresses that
 * signed in to the account before go first, then addresses without failures, then the rest.
 */
class Limiter {
  private active = 0;
  /** Waiting tasks' wake-ups by tier: true to run (the slot is theirs), false when evicted. */
  private readonly queues: Array<Array<(admitted: boolean) => void>> = TIERS.map(() => []);
  private waiting = 0;

  constructor(private readonly concurrency: number, private readonly queueMax: number) {}

  async run<T>(standing: Standing, task: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) {
      const tier = TIERS.indexOf(standing);
      if (this.waiting >= this.queueMax) {
        // Full: the task takes the place of the latest one of a lower tier, if any.
        const lower = this.queues.slice(tier + 1).reverse().find((q) => q.length > 0);
        const evicted = lower?.pop();
        if (!evicted) throw new QueueFull();
        this.waiting--;
        evicted(false);
      }
      this.waiting++;
      const admitted = await new Promise<boolean>((resolve) => this.queues[tier]?.push(resolve));
      if (!admitted) throw new QueueFull();
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      // The slot passes straight to the next task, or is freed.
      const next = this.queues.find((q) => q.length > 0)?.shift();
      if (next) {
        this.waiting--;
        next(true);
      } else {
        this.active--;
      }
    }
  }
}

export class SignIn {
  private readonly hashing: Limiter;

  constructor(private readonly store: Store, config: ServerConfig, private readonly throttle: Throttle) {
    this.hashing = new Limiter(config.passwordHashConcurrency, config.passwordHashQueue);
  }

  /**
   * The user if the password is theirs; undefined if not (or no such user: the same work is
   * done). Throws 429 `slow_down` when the attempt is throttled or the hashing queue is full.
   */
  async authenticate(username: string, password: string, from: SignInSource): Promise<UserRecord | undefined> {
    const account = username.slice(0, NAME_MAX);
    const address = addressKey(from.address);
    const begun = await this.throttle.begin(account, address);
    if ('wait' in begun) throw slowDown(begun.wait, 'too many failed sign-in attempts');
    let user: UserRecord | undefined;
    let ok: boolean;
    try {
      user = await this.store.getUserByName(username);
      ok = await this.hashing.run(begun.standing, () => verifyPassword(password, user?.passwordHash ?? DUMMY_HASH));
    } catch (err) {
      this.throttle.cancel(begun.attempt);
      if (err instanceof QueueFull) throw slowDown(1000, 'too many sign-ins at once');
      throw err;
    }
    const signedIn = ok && user ? user : undefined;
    const { failures, refused } = await this.throttle.end(begun.attempt, signedIn !== undefined);
    if (!signedIn) {
      await this.store.appendAudit([{
        event: 'user.sign_in_failed',
        actor: 'anonymous',
        endpoint: from.endpoint,
        userId: user?.id ?? null,
        reason: user ? 'wrong password' : 'unknown username',
        data: { ...(user ? { username: account } : unknownName(account)), address, failures, refused_since_last: refused },
      }]);
    }
    return signedIn;
  }
}

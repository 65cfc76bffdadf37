/**
 * The session's token: loaded from the store once, saved before it is used, and replaced by one
 * refresh at a time, within the process (single flight) and, through the TokenLock, among every
 * process, tab or machine sharing the store.
 */
import { ReauthenticationRequiredError, RefreshOutcomeUnknownError } from '../errors.js';
import type { TokenLock } from '../lock/token-lock.js';
import type { AccessToken, TokenSet } from '../rfc6749/token.js';
import type { TokenStore } from '../store/token-store.js';
import type { TokenUpdate, TokenUpdatedListener } from './options.js';
import type { ServerClock } from './server-clock.js';

/**
 * The refresh margin is at most this share of the token's lifetime: a token living 2 s is
 * refreshed 0.5 s before it expires, not 30 s (which would be on every call).
 */
export const LIFETIME_FRACTION = 0.25;

/**
 * Thrown by a renewal whose request the server carried out (the refresh token it was sent is
 * spent) but whose answer the session will not use as it is: `keep` is the token set to store
 * instead (undefined: none, so the spent refresh token is dropped as after an unknown outcome);
 * `error` is what the caller gets. Never leaves the keeper.
 */
export class SpentRefresh {
  constructor(
    readonly error: unknown,
    readonly keep?: TokenSet,
  ) {}
}

/** What a renewal replaces. */
export interface Renewal {
  /** The resource (RFC 8707) whose access token is renewed; undefined: the set's own. */
  resource?: string | undefined;
  /** The token the caller held (undefined: none), which a token in the store must differ from to be used instead. */
  seen?: AccessToken | undefined;
  /** Renew even when the stored token is fresh (an explicit refresh()). */
  force?: boolean;
}

/** The access token a set holds for `resource` (undefined: the set's own). */
export function tokenFor(set: TokenSet, resource: string | undefined): AccessToken | undefined {
  return resource === undefined ? set : set.resource_tokens?.[resource];
}

export interface KeeperOptions {
  store: TokenStore;
  key: string;
  lock: TokenLock;
  /** The longest refresh margin, in seconds (the session's refreshLeeway). */
  leeway: number;
  clock: ServerClock;
  onUpdated: TokenUpdatedListener | undefined;
}

export class TokenKeeper {
  #current: TokenSet | undefined;
  #loading: Promise<TokenSet | undefined> | undefined;
  /** Renewals in flight, by resource ('' for the set's own access token). */
  readonly #refreshing = new Map<string, Promise<TokenSet>>();
  /** Bumped by every forgetting, so a load that was in flight then cannot bring the old token back. */
  #generation = 0;
  readonly #o: KeeperOptions;

  constructor(options: KeeperOptions) {
    this.#o = options;
  }

  /** The current token set, read from the store while the session holds none. */
  get(): Promise<TokenSet | undefined> {
    if (this.#current !== undefined) return Promise.resolve(this.#current);
    const generation = this.#generation;
    this.#loading ??= this.#o.store.get(this.#o.key).then(
      (token) => {
        this.#loading = undefined;
        if (generation === this.#generation) this.#current ??= token;
        return this.#current;
      },
      (err) => {
        this.#loading = undefined;
        throw err;
      },
    );
    return this.#loading;
  }

  /** Stores a new token set, then makes it current, then tells onTokenUpdated (awaited). */
  async save(token: TokenSet, reason: 'issued' | 'refreshed', resource?: string): Promise<TokenSet> {
    // Saved before use: if the store fails, the new token is never used (the error propagates).
    await this.#o.store.set(this.#o.key, token);
    this.#current = token;
    await this.#tell(token, reason, resource);
    return token;
  }

  /** Forgets the token, in the store too (under the lock, so never in the middle of a refresh). */
  async clear(): Promise<void> {
    this.#forget();
    await this.#o.lock.withLock(this.#o.key, async () => {
      this.#forget();
      await this.#o.store.delete(this.#o.key);
    });
    await this.#tell(undefined, 'revoked');
  }

  /**
   * Whether the access token expires within the refresh margin: the leeway, or a quarter of the
   * token's lifetime (expires_in) if that is less; on the server's clock (tokens without
   * expires_at never do).
   */
  expiresSoon(token: AccessToken): boolean {
    if (token.expires_at === undefined) return false;
    const lifetime = typeof token.expires_in === 'number' && token.expires_in > 0 ? token.expires_in : undefined;
    const margin = lifetime === undefined ? this.#o.leeway : Math.min(this.#o.leeway, lifetime * LIFETIME_FRACTION);
    return token.expires_at - margin <= this.#o.clock.now();
  }

  /**
   * Replaces the access token for `renewal.resource` (none: the set's own) by a new token set
   * from `refresh`, once: callers arriving while that renewal is in flight share it, and a caller
   * holding a token that was already replaced gets the replacement without a request. Renewals
   * run under the lock, one at a time (each resource's too: they all rotate the one refresh
   * token), and start by reading the store again: when another holder replaced the token
   * meanwhile, its token is used and nothing is sent (a second refresh would present a rotated
   * refresh token: reuse, RFC 9700 §4.14.2, which revokes the whole grant). `force` (refresh())
   * renews even a token that looks fresh.
   */
  renew(renewal: Renewal, refresh: (stored: TokenSet | undefined) => Promise<TokenSet>): Promise<TokenSet> {
    const slot = renewal.resource ?? '';
    const inFlight = this.#refreshing.get(slot);
    if (inFlight) return inFlight;
    const held = this.#current === undefined ? undefined : tokenFor(this.#current, renewal.resource);
    if (!renewal.force && renewal.seen !== undefined && held !== undefined && held.access_token !== renewal.seen.access_token) {
      return Promise.resolve(this.#current as TokenSet);
    }
    const flight = this.#o.lock.withLock(this.#o.key, () => this.#renewLocked(renewal, refresh));
    this.#refreshing.set(slot, flight);
    const done = () => {
      if (this.#refreshing.get(slot) === flight) this.#refreshing.delete(slot);
    };
    flight.then(done, done);
    return flight;
  }

  async #renewLocked(renewal: Renewal, refresh: (stored: TokenSet | undefined) => Promise<TokenSet>): Promise<TokenSet> {
    const stored = await this.#o.store.get(this.#o.key);
    // Signed out elsewhere (another process's logout): this process's copy goes too.
    if (stored === undefined) this.#forget();
    else if (!renewal.force) {
      const theirs = tokenFor(stored, renewal.resource);
      if (theirs !== undefined && theirs.access_token !== renewal.seen?.access_token && !this.expiresSoon(theirs)) {
        // Another holder renewed while this one waited for the lock: use its token, send nothing.
        this.#current = stored;
        return stored;
      }
    }
    try {
      return await this.save(await refresh(stored), stored?.refresh_token === undefined ? 'issued' : 'refreshed', renewal.resource);
    } catch (thrown) {
      const err = thrown instanceof SpentRefresh ? thrown.error : thrown;
      if (thrown instanceof SpentRefresh && thrown.keep !== undefined) {
        await this.save(thrown.keep, 'refreshed', renewal.resource);
      } else if (err instanceof ReauthenticationRequiredError) {
        // The grant is gone: nobody sharing the store should send this refresh token again.
        this.#forget();
        await this.#o.store.delete(this.#o.key);
        await this.#tell(undefined, 'revoked');
      } else if ((err instanceof RefreshOutcomeUnknownError || thrown instanceof SpentRefresh) && stored !== undefined) {
        const now = await this.#o.store.get(this.#o.key);
        if (now !== undefined && now.refresh_token !== stored.refresh_token) {
          // Someone stored a newer token after all (a lock that is not exclusive, a store written by hand).
          this.#current = now;
          return now;
        }
        // Keep the access tokens while they last; the refresh token may be spent and is never sent again.
        const { refresh_token: _spent, ...kept } = stored;
        await this.#o.store.set(this.#o.key, kept);
        this.#current = kept;
        await this.#tell(kept, 'revoked');
      }
      throw err;
    }
  }

  #forget(): void {
    this.#generation++;
    this.#current = undefined;
    this.#loading = undefined;
  }

  async #tell(token: TokenSet | undefined, reason: TokenUpdate['reason'], resource?: string): Promise<void> {
    await this.#o.onUpdated?.(token, { reason, resource });
  }

  /** Never the token: it is a credential (util.inspect, console.log). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `TokenKeeper { key: ${JSON.stringify(this.#o.key)}, holds: ${this.#current !== undefined} }`;
  }

  toJSON(): { key: string; holds: boolean } {
    return { key: this.#o.key, holds: this.#current !== undefined };
  }
}

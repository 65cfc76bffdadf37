/**
 * The session's token: loaded from the store once, saved before it is used, refreshed by one
 * request however many callers need it at the same time (single flight).
 */
import { epochSeconds } from '../encoding.js';
import type { TokenSet } from '../rfc6749/token.js';
import type { TokenStore } from '../store/token-store.js';

export class TokenKeeper {
  private current: TokenSet | undefined;
  private loading: Promise<TokenSet | undefined> | undefined;
  private refreshing: Promise<TokenSet> | undefined;
  /** Bumped by clear(), so a load that was in flight then cannot bring the old token back. */
  private generation = 0;

  constructor(
    private readonly store: TokenStore,
    private readonly key: string,
    private readonly leeway: number,
    private readonly onUpdated: ((token: TokenSet) => void | Promise<void>) | undefined,
  ) {}

  /** The current token set, read from the store while the session holds none. */
  get(): Promise<TokenSet | undefined> {
    if (this.current !== undefined) return Promise.resolve(this.current);
    const generation = this.generation;
    this.loading ??= this.store.get(this.key).then(
      (token) => {
        this.loading = undefined;
        if (generation === this.generation) this.current ??= token;
        return this.current;
      },
      (err) => {
        this.loading = undefined;
        throw err;
      },
    );
    return this.loading;
  }

  /** Stores a new token set, then makes it current, then tells onTokenUpdated. */
  async save(token: TokenSet): Promise<TokenSet> {
    // Saved before use: if the store fails, the new token is never used (the error propagates).
    await this.store.set(this.key, token);
    this.current = token;
    await this.onUpdated?.(token);
    return token;
  }

  async clear(): Promise<void> {
    this.generation++;
    this.current = undefined;
    this.loading = undefined;
    await this.store.delete(this.key);
  }

  /** Whether the access token expires within the leeway (tokens without expires_at never do). */
  expiresSoon(token: TokenSet): boolean {
    return token.expires_at !== undefined && token.expires_at - this.leeway <= epochSeconds();
  }

  /**
   * Replaces `seen` by a new token set from `renew`, once: callers arriving while a renewal is in
   * flight share it, and a caller holding a token that was already replaced gets the replacement
   * without a request (a second refresh would present a rotated refresh token: reuse, RFC 9700
   * §4.14.2, which revokes the whole family).
   */
  renew(seen: TokenSet | undefined, renew: (current: TokenSet | undefined) => Promise<TokenSet>): Promise<TokenSet> {
    if (this.refreshing) return this.refreshing;
    if (seen !== undefined && this.current !== undefined && this.current !== seen) return Promise.resolve(this.current);
    const flight = (async () => this.save(await renew(this.current)))();
    this.refreshing = flight;
    flight.then(
      () => this.done(flight),
      () => this.done(flight),
    );
    return flight;
  }

  private done(flight: Promise<TokenSet>): void {
    if (this.refreshing === flight) this.refreshing = undefined;
  }
}

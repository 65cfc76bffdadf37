/**
 * A TokenLock over the Web Locks API (`navigator.locks`): exclusive among every tab, window and
 * worker of one origin, released by the browser when the holder's tab closes or crashes. For a
 * session whose store the tabs share (IndexedDbTokenStore).
 */
import { ConfigurationError, TokenLockError } from '../errors.js';
import type { TokenLock } from './token-lock.js';

export interface WebLocksTokenLockOptions {
  /** Prefix of the lock names, before the store key (default `tessera-token:`). */
  prefix?: string;
  /** Milliseconds to wait for the lock before TokenLockError (default 30,000). */
  timeout?: number;
  /** The LockManager (default `navigator.locks`). */
  locks?: LockManager;
}

export class WebLocksTokenLock implements TokenLock {
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #locks: LockManager | undefined;

  constructor(options: WebLocksTokenLockOptions = {}) {
    this.#prefix = options.prefix ?? 'tessera-token:';
    this.#timeout = options.timeout ?? 30_000;
    this.#locks = options.locks ?? (globalThis.navigator as Navigator | undefined)?.locks;
  }

  /** Whether this environment has Web Locks. */
  static available(): boolean {
    return (globalThis.navigator as Navigator | undefined)?.locks !== undefined;
  }

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.#locks === undefined) throw new ConfigurationError('Web Locks (navigator.locks) are not available here');
    const signal = AbortSignal.timeout(this.#timeout);
    let granted = false;
    try {
      return await this.#locks.request(`${this.#prefix}${key}`, { mode: 'exclusive', signal }, () => {
        granted = true;
        return fn();
      });
    } catch (err) {
      // The signal only ever aborts the wait, never a holder: an abort before the grant is a timeout.
      if (!granted && signal.aborted) throw new TokenLockError(`the Web Lock for a token refresh was not granted within ${this.#timeout} ms`);
      throw err;
    }
  }
}

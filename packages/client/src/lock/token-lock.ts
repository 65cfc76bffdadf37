/**
 * The lock a session holds around read → refresh → write of its token, so that one holder at a
 * time refreshes: another process, tab or machine that shares the store waits, then reads the
 * store again and finds the new token (with rotating refresh tokens, a second refresh would
 * present a spent refresh token: reuse, RFC 9700 §4.14.2, which revokes the whole grant).
 */
export interface TokenLock {
  /**
   * Runs `fn` while holding the lock named `key` (the session's store key), exclusively among all
   * holders of this lock, and releases it when `fn` settles, however it settles. Rejects with
   * TokenLockError when the lock cannot be had in time.
   */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * A lock within one JavaScript realm (one process, one tab): callers of the same key run one
 * after the other, in arrival order. MemoryTokenStore's lock; the file lock queues its own
 * callers here before contending for the file.
 */
export class LocalLock implements TokenLock {
  readonly #tails = new Map<string, Promise<void>>();

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = before.then(() => mine);
    this.#tails.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/**
 * `@tessera/client/redis`: one refresh at a time across a fleet of servers, and a token store
 * they share, on Redis. Takes a connected client of the `redis` package (node-redis, an optional
 * peer dependency) or anything with its `sendCommand(args)`.
 *
 * The lock (Redis's single-instance lock pattern): `SET key nonce NX PX ttl` takes it, and only
 * the holder's nonce releases or extends it (a Lua script compares, then deletes or expires, in
 * one step), so a holder that lost its lock to expiry never removes the next holder's. A holder
 * that dies releases nothing: its key expires after `ttl`. While held, the lock is extended every
 * ttl/3, so a slow refresh keeps it. Waiters poll (25 ms doubling to 250 ms), never spin.
 */
import { ConfigurationError, TokenLockError } from './errors.js';
import type { TokenLock } from './lock/token-lock.js';
import type { TokenSet } from './rfc6749/token.js';
import { parseStored, storedTokenSet, type TokenStore } from './store/token-store.js';

/** What is needed of a Redis client: node-redis's raw command call. */
export interface RedisCommands {
  sendCommand(args: string[]): Promise<unknown>;
}

export interface RedisTokenLockOptions {
  /** Key prefix before the store key (default `tessera:lock:`). */
  prefix?: string;
  /** Milliseconds the lock lives unless extended: how long a dead holder blocks the others (default 15,000). */
  ttl?: number;
  /** Milliseconds to wait for the lock before TokenLockError (default 30,000). */
  timeout?: number;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

export class RedisTokenLock implements TokenLock {
  readonly #redis: RedisCommands;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #timeout: number;

  constructor(redis: RedisCommands, options: RedisTokenLockOptions = {}) {
    if (typeof redis?.sendCommand !== 'function') throw new ConfigurationError('RedisTokenLock needs a client with sendCommand(args) (the redis package)');
    this.#redis = redis;
    this.#prefix = options.prefix ?? 'tessera:lock:';
    this.#ttl = options.ttl ?? 15_000;
    this.#timeout = options.timeout ?? 30_000;
  }

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const name = `${this.#prefix}${key}`;
    const nonce = randomNonce();
    const deadline = Date.now() + this.#timeout;
    for (let poll = 25; ; poll = Math.min(poll * 2, 250)) {
      if ((await this.#redis.sendCommand(['SET', name, nonce, 'NX', 'PX', String(this.#ttl)])) === 'OK') break;
      const left = deadline - Date.now();
      if (left <= 0) throw new TokenLockError(`the Redis lock for a token refresh stayed held for ${this.#timeout} ms`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(poll, left)));
    }
    const extend = setInterval(() => {
      this.#redis.sendCommand(['EVAL', EXTEND, '1', name, nonce, String(this.#ttl)]).catch(() => {});
    }, this.#ttl / 3);
    (extend as { unref?: () => void }).unref?.();
    try {
      return await fn();
    } finally {
      clearInterval(extend);
      await this.#redis.sendCommand(['EVAL', RELEASE, '1', name, nonce]);
    }
  }
}

export interface RedisTokenStoreOptions {
  /** Key prefix before the store key (default `tessera:token:`). */
  prefix?: string;
  /** The lock sessions on this store use (default: a RedisTokenLock on the same client). */
  lock?: TokenLock;
}

/** Token sets as JSON strings in Redis, one key each; `lock` is a RedisTokenLock by default. */
export class RedisTokenStore implements TokenStore {
  readonly lock: TokenLock;
  readonly #redis: RedisCommands;
  readonly #prefix: string;

  constructor(redis: RedisCommands, options: RedisTokenStoreOptions = {}) {
    this.lock = options.lock ?? new RedisTokenLock(redis);
    this.#redis = redis;
    this.#prefix = options.prefix ?? 'tessera:token:';
  }

  async get(key: string): Promise<TokenSet | undefined> {
    const value = await this.#redis.sendCommand(['GET', `${this.#prefix}${key}`]);
    const where = `the Redis key ${this.#prefix}${key}`;
    return typeof value === 'string' ? storedTokenSet(parseStored(value, where, 'delete it'), where, 'delete it') : undefined;
  }

  async set(key: string, token: TokenSet): Promise<void> {
    await this.#redis.sendCommand(['SET', `${this.#prefix}${key}`, JSON.stringify(token)]);
  }

  async delete(key: string): Promise<void> {
    await this.#redis.sendCommand(['DEL', `${this.#prefix}${key}`]);
  }
}

function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Where a session keeps its tokens, so they survive restarts. */
import { TokenStoreError } from '../errors.js';
import { LocalLock, type TokenLock } from '../lock/token-lock.js';
import type { TokenSet } from '../rfc6749/token.js';

/**
 * A store's stored text, parsed. Not the parser's error when it is not JSON: that message quotes
 * the text around the fault, a token; a TokenStoreError names `where` and what to do.
 */
export function parseStored(text: string, where: string, remedy: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TokenStoreError(`${where} is not valid JSON: ${remedy}`);
  }
}

/**
 * A store's entry for one key, checked to be a token set (an object with an access_token and a
 * token_type): anything else (null, a string, an array, another shape, written by hand or by
 * another program) is a TokenStoreError naming `where`, never what it holds, rather than a
 * TypeError deep in the session. Undefined (no entry) stays undefined.
 */
export function storedTokenSet(value: unknown, where: string, remedy: string): TokenSet | undefined {
  if (value === undefined) return undefined;
  const token = value as { access_token?: unknown; token_type?: unknown } | null;
  if (typeof token !== 'object' || token === null || Array.isArray(token) || typeof token.access_token !== 'string' || token.access_token === '' || typeof token.token_type !== 'string') {
    throw new TokenStoreError(`${where} does not hold a token set (an object with access_token and token_type): ${remedy}`);
  }
  return value as TokenSet;
}

/**
 * A place for token sets, by key (one key per session: a user, or the client itself). `set`
 * must resolve only once the token is durably stored: the session waits for it before using a
 * rotated refresh token's successor, so a crash never leaves a store holding a spent token.
 *
 * A store that several processes, tabs or machines share should offer a `lock` exclusive among
 * them all: sessions take it around read → refresh → write when no `lock` option is given.
 */
export interface TokenStore {
  get(key: string): Promise<TokenSet | undefined>;
  set(key: string, token: TokenSet): Promise<void>;
  delete(key: string): Promise<void>;
  /** The lock that makes one refresh at a time among everyone sharing this store. */
  readonly lock?: TokenLock | undefined;
}

/** Tokens in memory: gone when the process ends. The default store. */
export class MemoryTokenStore implements TokenStore {
  /** Sessions of this process sharing this store refresh one at a time. */
  readonly lock: TokenLock = new LocalLock();
  readonly #tokens = new Map<string, TokenSet>();

  async get(key: string): Promise<TokenSet | undefined> {
    const token = this.#tokens.get(key);
    return token === undefined ? undefined : structuredClone(token);
  }

  async set(key: string, token: TokenSet): Promise<void> {
    this.#tokens.set(key, structuredClone(token));
  }

  async delete(key: string): Promise<void> {
    this.#tokens.delete(key);
  }

  /** Never the tokens: they are credentials (util.inspect, console.log). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `MemoryTokenStore { keys: ${this.#tokens.size} }`;
  }

  toJSON(): { keys: number } {
    return { keys: this.#tokens.size };
  }
}

/** Where a session keeps its tokens, so they survive restarts. */
import type { TokenSet } from '../rfc6749/token.js';

/**
 * A place for token sets, by key (one key per session: a user, or the client itself). `set`
 * must resolve only once the token is durably stored: the session waits for it before using a
 * rotated refresh token's successor, so a crash never leaves a store holding a spent token.
 */
export interface TokenStore {
  get(key: string): Promise<TokenSet | undefined>;
  set(key: string, token: TokenSet): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Tokens in memory: gone when the process ends. The default store. */
export class MemoryTokenStore implements TokenStore {
  private readonly tokens = new Map<string, TokenSet>();

  async get(key: string): Promise<TokenSet | undefined> {
    const token = this.tokens.get(key);
    return token === undefined ? undefined : structuredClone(token);
  }

  async set(key: string, token: TokenSet): Promise<void> {
    this.tokens.set(key, structuredClone(token));
  }

  async delete(key: string): Promise<void> {
    this.tokens.delete(key);
  }
}

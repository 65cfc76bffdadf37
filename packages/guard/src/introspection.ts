/**
 * Token introspection (RFC 7662) for opaque tokens, for JWTs the revoked set cannot decide, and
 * for every token while the feed is stale. Answers are cached — bounded, least recently used
 * first out, never past the token's `exp` — and feed events evict the entries they cover.
 */
import { createHash } from 'node:crypto';
import { GuardUnavailable } from './result.js';
import type { FeedEvent } from './revocations.js';

/** RFC 7662 §2.2: `active`, and for active tokens whatever the server tells. */
export interface IntrospectionResponse {
  active: boolean;
  [member: string]: unknown;
}

export interface IntrospectorOptions {
  size: number;
  ttl: number;
  timeout: number;
  fetch: typeof fetch;
}

interface Entry {
  response: IntrospectionResponse;
  expiresAt: number;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export class Introspector {
  /** Keyed by SHA-256 of the token: the cache never holds a token. */
  private readonly cache = new Map<string, Entry>();
  /** jti → cache key, so a token event evicts its entry without a scan. */
  private readonly byJti = new Map<string, string>();

  constructor(
    private readonly endpoint: () => Promise<string>,
    private readonly authorization: string,
    private readonly options: IntrospectorOptions,
  ) {}

  async introspect(token: string, useCache: boolean): Promise<{ response: IntrospectionResponse; cached: boolean }> {
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = this.cache.get(key);
    if (useCache && hit && hit.expiresAt > Date.now()) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return { response: hit.response, cached: true };
    }
    const response = await this.request(token);
    this.remember(key, response);
    return { response, cached: false };
  }

  /** RFC 7662 §2.1: POST the token, authenticated as the guard's client (client_secret_basic). */
  private async request(token: string): Promise<IntrospectionResponse> {
    let res: Response;
    try {
      res = await this.options.fetch(await this.endpoint(), {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(this.options.timeout),
      });
    } catch (cause) {
      throw new GuardUnavailable('the introspection endpoint cannot be reached', { cause });
    }
    const body = (await res.json().catch(() => undefined)) as IntrospectionResponse | undefined;
    if (res.status !== 200 || typeof body?.active !== 'boolean') throw new GuardUnavailable(`introspection answered ${res.status}`);
    return body;
  }

  private remember(key: string, response: IntrospectionResponse): void {
    const exp = typeof response.exp === 'number' ? response.exp * 1000 : Number.POSITIVE_INFINITY;
    // An inactive token never becomes active again: its answer may be kept the whole TTL.
    const expiresAt = Math.min(Date.now() + this.options.ttl, response.active ? exp : Number.POSITIVE_INFINITY);
    this.delete(key);
    this.cache.set(key, { response, expiresAt });
    const jti = str(response.jti);
    if (jti !== undefined) this.byJti.set(jti, key);
    while (this.cache.size > this.options.size) this.delete(this.cache.keys().next().value as string);
  }

  private delete(key: string): void {
    const entry = this.cache.get(key);
    if (!entry) return;
    this.cache.delete(key);
    const jti = str(entry.response.jti);
    if (jti !== undefined && this.byJti.get(jti) === key) this.byJti.delete(jti);
  }

  /** Drops the cached answers a feed event covers. */
  evict(e: FeedEvent): void {
    if (e.type === 'token') {
      const key = this.byJti.get(String(e.value));
      if (key !== undefined) this.delete(key);
    } else if (e.type === 'grant' || e.type === 'family') {
      // Introspection answers do not name the grant or family: drop them all.
      this.cache.clear();
      this.byJti.clear();
    } else {
      for (const [key, { response: r }] of this.cache) {
        const iat = typeof r.iat === 'number' ? r.iat * 1000 : 0;
        const covered = e.type === 'issued_before' ? iat < Number(e.value) : (e.type === 'user' ? r.sub : r.client_id) === e.value;
        if (covered) this.delete(key);
      }
    }
  }

  get size(): number {
    return this.cache.size;
  }
}

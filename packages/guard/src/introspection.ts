/**
 * Token introspection (RFC 7662) for opaque tokens, for JWTs the revoked set cannot decide, and
 * for every token while the feed is stale. Answers are cached — bounded, least recently used
 * first out, never past the token's `exp` — and feed events evict the entries they cover.
 *
 * An answer in flight when an event arrives was given before the revocation may have committed.
 * Each request watches the events applied while it is in flight: if one of them covers the
 * answer (or might: grant and family events cannot be matched against an introspection answer,
 * which names neither), the answer is neither cached nor used, and the token is asked about
 * again — the server answers that request after the revocation, whose event the guard has seen.
 */
import { createHash } from 'node:crypto';
import { GuardUnavailable, httpError, networkError } from './errors.js';
import type { GuardLogger } from './options.js';
import type { FeedEvent, Verdict } from './revocations.js';

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
  logger: GuardLogger | undefined;
  /** The revoked set's verdict on an answer: consulted when too many events arrived to match one by one. */
  verdict?: (r: IntrospectionResponse) => Verdict;
}

interface Entry {
  response: IntrospectionResponse;
  expiresAt: number;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** Asks per verification before a 503: each repeat means another event arrived in flight. */
const ATTEMPTS = 3;
/** Events remembered per request in flight; past this many, it is asked again anyway. */
const MAX_WATCHED = 64;

/**
 * Whether a feed event covers (or may cover) the token an introspection answer describes. An
 * inactive answer is covered by nothing: it needs no revoking. Grant and family events match
 * answers by `tessera_grant` / `tessera_family` (Tessera's answers carry them); an answer without
 * them may belong to any grant, so they cover it.
 */
export function covers(e: FeedEvent, r: IntrospectionResponse): boolean {
  if (r.active !== true) return false;
  // Issue times have one-second precision: a token of the event's very second is covered.
  const issuedBy = (instant: number) => typeof r.iat !== 'number' || r.iat * 1000 <= instant;
  switch (e.type) {
    case 'token':
      return r.jti === undefined || r.jti === String(e.value);
    case 'grant':
      return r.tessera_grant === undefined || r.tessera_grant === String(e.value);
    case 'family':
      return r.tessera_family === undefined || r.tessera_family === String(e.value);
    case 'user':
      return (r.sub === undefined || r.sub === String(e.value)) && issuedBy(e.at);
    case 'client':
      return (r.client_id === undefined || r.client_id === String(e.value)) && issuedBy(e.at);
    case 'issued_before':
      return issuedBy(Number(e.value) - 1);
    default:
      return true;
  }
}

export class Introspector {
  /** Keyed by SHA-256 of the token: the cache never holds a token. */
  private readonly cache = new Map<string, Entry>();
  /** jti → cache key, so a token event evicts its entry without a scan. */
  private readonly byJti = new Map<string, string>();
  /** Per request in flight, the events applied since it was sent. */
  private readonly inFlight = new Set<FeedEvent[]>();
  private lastFailure: string | undefined;

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
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const watch: FeedEvent[] = [];
      this.inFlight.add(watch);
      let response: IntrospectionResponse;
      try {
        response = await this.request(token);
      } finally {
        this.inFlight.delete(watch);
      }
      // A guard never accepts a token after applying an event that covers it: ask again.
      if (this.overtaken(watch, response)) continue;
      this.remember(key, response);
      return { response, cached: false };
    }
    throw new GuardUnavailable('revocations kept arriving while the token was introspected');
  }

  /** Whether an event applied while the answer was in flight covers (or may cover) it. */
  private overtaken(watch: FeedEvent[], response: IntrospectionResponse): boolean {
    if (watch.length <= MAX_WATCHED) return watch.some((e) => covers(e, response));
    // Too many to keep (a flood of revocations): the revoked set holds every applied event. A flood
    // of unrelated revocations must not turn every answer into a retry and then a 503.
    return response.active === true && this.options.verdict?.(response) !== 'live';
  }

  /** RFC 7662 §2.1: POST the token, authenticated as the guard's client (client_secret_basic). */
  private async request(token: string): Promise<IntrospectionResponse> {
    // A discovery failure propagates as it is (its own code), not as an unreachable endpoint.
    const url = await this.endpoint();
    let res: Response;
    try {
      res = await this.options.fetch(url, {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(this.options.timeout),
      });
    } catch (cause) {
      throw this.failed(networkError('the introspection endpoint', cause));
    }
    // Never quoted: the request carried a token, which a careless server might echo.
    if (res.status !== 200) throw this.failed(await httpError('the introspection endpoint', res, false));
    const body = (await res.json().catch(() => undefined)) as IntrospectionResponse | undefined;
    if (typeof body?.active !== 'boolean') throw this.failed(new GuardUnavailable('the introspection endpoint answered without "active"'));
    return body;
  }

  /** Reports a failure (once per distinct cause) and turns it into a 503 for this verification. */
  private failed(err: Error): GuardUnavailable {
    if (err.message !== this.lastFailure) this.options.logger?.error({ event: 'introspection.failed', code: (err as { code?: string }).code }, err.message);
    this.lastFailure = err.message;
    // The caller (an API client) gets the kind of failure; the log gets the detail.
    return new GuardUnavailable('the introspection endpoint cannot be asked now', { cause: err });
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

  /** Drops the cached answers a feed event covers, and marks the answers in flight it may cover. */
  evict(e: FeedEvent): void {
    for (const watch of this.inFlight) if (watch.length <= MAX_WATCHED) watch.push(e);
    if (e.type === 'token') {
      const key = this.byJti.get(String(e.value));
      if (key !== undefined) this.delete(key);
    } else {
      for (const [key, { response }] of this.cache) if (covers(e, response)) this.delete(key);
    }
  }

  get size(): number {
    return this.cache.size;
  }
}

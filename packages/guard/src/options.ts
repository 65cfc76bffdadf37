/** Every guard setting with its default and a one-line doc, in one place. */
import type { GuardResult } from './result.js';
import type { FeedEvent } from './revocations.js';

export interface GuardEndpoints {
  jwks: string;
  introspection: string;
  /** Tessera's revocation feed (metadata `tessera_revocation_feed_endpoint`). */
  feed: string;
  /** The same feed as Server-Sent Events (metadata `tessera_revocation_stream_endpoint`). */
  stream: string;
}

/**
 * Where the guard reports what it does (pino's interface, so a pino logger fits as is): feed
 * caught up, connections lost and back, JWKS changes and failures, ready() failing. Never a
 * token or a secret; nothing per verification.
 */
export interface GuardLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface GuardOptions {
  /** The authorization server's issuer identifier (RFC 8414 §2): JWTs must carry it as `iss`. */
  issuer: string;
  /** This resource server's identifier: a JWT's `aud` must include it (RFC 9068 §4). */
  audience: string;
  /**
   * A confidential client registered with scope `tessera:revocations` (to read the feed) and
   * `tessera:introspect` (for opaque tokens, ambiguous cases and the stale-feed fallback).
   */
  client?: { id: string; secret: string };
  /** 'ignore' runs without the feed: revoked JWTs are accepted until they expire. Opt-in, insecure. */
  revocations?: 'feed' | 'ignore';
  /** Milliseconds of feed silence after which the guard stops trusting its revocation set. */
  maxStaleness?: number;
  /** Once stale: refuse every token with 503, or introspect every token until the feed is back. */
  onStale?: 'fail-closed' | 'introspect';
  /** Clock skew allowed on exp, nbf and iat, in seconds. */
  clockTolerance?: number;
  /** JWS algorithms accepted (RFC 9068 §4: never `none`). */
  algorithms?: string[];
  /** At most one JWKS refetch per this many ms when a token names an unknown `kid`. */
  jwksCooldown?: number;
  /** The JWKS is refreshed in the background once older than this many ms; a key it no longer lists stops verifying. */
  jwksMaxAge?: number;
  /** While JWKS refreshes fail, the old set is kept this many ms past jwksMaxAge; then JWTs get 503 until a fetch succeeds. */
  jwksMaxStale?: number;
  /** Introspection results kept (entries) and for how long (ms, never past the token's exp). */
  introspectionCacheSize?: number;
  introspectionCacheTtl?: number;
  /** Reconnection backoff of the feed: first delay and ceiling, in ms (exponential, jittered). */
  reconnectMin?: number;
  reconnectMax?: number;
  /** Timeout of each request to the authorization server (metadata, JWKS, introspection), ms. */
  timeout?: number;
  /**
   * ready() rejects with ERR_GUARD_UNREACHABLE if the feed has not caught up within this many ms
   * because the server cannot be reached (the guard keeps trying). Bad credentials, a missing
   * scope, an issuer mismatch or unusable metadata reject at once, whatever this says.
   * Infinity waits for ever.
   */
  readyTimeout?: number;
  /** Where the guard reports what it does (pino-compatible). Silent by default. */
  logger?: GuardLogger;
  /** `realm` of the WWW-Authenticate challenge (RFC 6750 §3). */
  realm?: string;
  /** Endpoints to use instead of those in the issuer's metadata (RFC 8414). */
  endpoints?: Partial<GuardEndpoints>;
  /** Plain-HTTP issuers are refused unless on loopback or allowed here. Insecure. */
  allowInsecureHttp?: boolean;
  fetch?: typeof fetch;
  /** Metric hook: called after every verification. */
  onVerify?: (result: GuardResult, elapsedMs: number) => void;
  /** Metric hook: called for every feed event applied. */
  onFeedEvent?: (event: FeedEvent) => void;
  /** DPoP (RFC 9449): the proof algorithms accepted, a subset of ES256, PS256, RS256, EdDSA and Ed25519 (all by default). */
  dpopAlgorithms?: string[];
  /** DPoP: seconds a proof is accepted after its `iat` (RFC 9449 §11.1); `clockTolerance` allows it that far ahead. */
  dpopProofLifetime?: number;
  /** DPoP: every proof must carry a nonce this guard provides (RFC 9449 §9): 401 use_dpop_nonce with a DPoP-Nonce header otherwise. */
  dpopNonce?: boolean;
  /**
   * DPoP: the key nonces are made with (at least 32 bytes), for replicas of a resource server
   * that must accept each other's nonces; a random key per guard by default.
   */
  dpopNonceSecret?: string | Uint8Array;
  /**
   * DPoP: proof `jti` values remembered against replay (RFC 9449 §11.1), each until its proof
   * would be too old anyway; when full, the oldest is forgotten first. Size it to the DPoP
   * requests one guard takes in `dpopProofLifetime` seconds.
   */
  dpopReplayCacheSize?: number;
  /**
   * DPoP: the origin clients send requests to (`https://api.example.com`), for an app that sees
   * another one behind a TLS-terminating proxy or a gateway. A proof's `htu` must then be this
   * origin with the request's path (RFC 9449 §4.3 item 9, query and fragment ignored), whatever
   * the scheme, Host or X-Forwarded-* headers the app receives. Absent: the request's URL as the
   * adapter rebuilds it.
   */
  expectedOrigin?: string;
}

export const defaults = {
  revocations: 'feed',
  maxStaleness: 10_000,
  onStale: 'fail-closed',
  clockTolerance: 5,
  algorithms: ['ES256', 'RS256'],
  jwksCooldown: 1_000,
  jwksMaxAge: 600_000,
  jwksMaxStale: 300_000,
  introspectionCacheSize: 10_000,
  introspectionCacheTtl: 60_000,
  reconnectMin: 250,
  reconnectMax: 5_000,
  timeout: 5_000,
  readyTimeout: 30_000,
  dpopAlgorithms: ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519'],
  dpopProofLifetime: 60,
  dpopNonce: false,
  dpopReplayCacheSize: 100_000,
} satisfies Partial<GuardOptions>;

export type ResolvedOptions = GuardOptions & Required<Pick<GuardOptions, keyof typeof defaults | 'fetch'>>;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export function resolveOptions(input: GuardOptions): ResolvedOptions {
  const o: ResolvedOptions = {
    ...defaults, algorithms: [...defaults.algorithms], dpopAlgorithms: [...defaults.dpopAlgorithms], fetch: globalThis.fetch, ...stripUndefined(input), issuer: input.issuer, audience: input.audience,
  };
  const issuer = new URL(input.issuer);
  if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && (LOOPBACK.has(issuer.hostname) || input.allowInsecureHttp))) {
    throw new TypeError(`createGuard: issuer ${input.issuer} is not https (pass allowInsecureHttp to accept it)`);
  }
  if (o.revocations === 'feed' && !o.client) {
    throw new TypeError("createGuard: the revocation feed needs `client` credentials (or revocations: 'ignore', which accepts revoked JWTs until they expire)");
  }
  if (o.algorithms.some((a) => a.toLowerCase() === 'none')) throw new TypeError('createGuard: alg none is never accepted (RFC 9068 §4)');
  if (o.expectedOrigin !== undefined) o.expectedOrigin = originOf(o.expectedOrigin);
  return o;
}

/** An http(s) origin (RFC 6454 §4: scheme, host, port) in its serialised form: scheme and host in lower case, no default port, no slash. */
function originOf(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '' || url.pathname !== '/' || /[?#]/.test(value)) {
    throw new TypeError(`createGuard: expectedOrigin must be an origin, scheme://host[:port] with no path, query or credentials (e.g. https://api.example.com), not ${JSON.stringify(value)}`);
  }
  return url.origin;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * createGuard: what a resource server calls to accept or refuse access tokens, bearer (RFC 6750)
 * or DPoP-bound (RFC 9449). Wires the JWKS cache, the introspection client, the revoked set, the
 * feed subscriber and the DPoP proof checker; verifyHttp() and verify() run the pipeline;
 * status() shows how current the guard is.
 */
import { factsOf } from './claims.js';
import { parseAuthorization, parseCredentials } from './bearer.js';
import { DpopChecker } from './dpop.js';
import { Discovery } from './discovery.js';
import type { FeedState } from './feed/subscriber.js';
import { FeedSubscriber } from './feed/subscriber.js';
import { Introspector } from './introspection.js';
import { JwksCache } from './jwks.js';
import { type GuardEndpoints, type GuardOptions, resolveOptions } from './options.js';
import { joseOptions } from './jwt.js';
import { checkToken, type Parts } from './pipeline.js';
import { asDpop, type GuardResult, invalidRequest, missingToken } from './result.js';
import { RevocationSet } from './revocations.js';

export interface GuardStatus {
  /** null when the guard runs without the feed (revocations: 'ignore'). */
  feed: {
    state: FeedState;
    cursor: number;
    /** The first catch-up has completed. */
    synced: boolean;
    lastHeardAt: number | null;
    /** Milliseconds since the feed was last heard from (Infinity before it ever was). */
    staleness: number;
    maxStaleness: number;
    stale: boolean;
    onStale: 'fail-closed' | 'introspect';
    reconnects: number;
    /** The last failure to reach the feed (kept after recovery), and its stable code. */
    lastError: string | null;
    lastErrorCode: string | null;
  } | null;
  revoked: RevocationSet['size'];
  introspectionCache: number;
  jwks: ReturnType<JwksCache['status']>;
  /** DPoP proof jti values remembered against replay (RFC 9449 §11.1). */
  dpopProofs: number;
  counters: { accepted: number; refused: number; unavailable: number };
}

/**
 * What the guard reads of an HTTP request (a fetch-API Request has it): the method and the URL the
 * client sent it to (a DPoP proof's htm and htu, RFC 9449 §4.3; read only for the DPoP scheme)
 * and the Authorization and DPoP headers (repeated fields joined with commas).
 */
export interface GuardRequest {
  readonly method: string;
  readonly url: string;
  /**
   * The request target's path and query as received (`/notes?page=2`), which the framework
   * adapters pass: with the guard's `expectedOrigin`, a proof's htu is that origin and this path.
   * Absent, the path of `url`.
   */
  readonly path?: string;
  readonly headers: { get(name: string): string | null | undefined };
}

export interface Guard {
  /**
   * Checks an HTTP request: `Authorization: Bearer` (RFC 6750), or `Authorization: DPoP` with its
   * `DPoP` proof over the request's method and URL (RFC 9449 §7). What every adapter calls (through
   * verifyRequest).
   */
  verifyHttp(request: GuardRequest, requiredScopes?: readonly string[]): Promise<GuardResult>;
  /**
   * Checks an Authorization header value with the Bearer scheme (RFC 6750 §2.1), e.g.
   * `req.headers.authorization`. Without the request, the DPoP scheme is "no token" here: use
   * verifyHttp (or verifyRequest) to take DPoP.
   */
  verify(authorization: string | null | undefined, requiredScopes?: readonly string[]): Promise<GuardResult>;
  /** Checks a bare access token, as a bearer token (a DPoP-bound one is refused, RFC 9449 §7.2). */
  verifyToken(token: string, requiredScopes?: readonly string[]): Promise<GuardResult>;
  /**
   * Resolves once the revocation feed has caught up for the first time (without the feed: once
   * the issuer's metadata is read). Rejects with a GuardError whose `code` names the cause: at
   * once for ERR_GUARD_CREDENTIALS, ERR_GUARD_FORBIDDEN, ERR_ISSUER_MISMATCH and
   * ERR_GUARD_CONFIGURATION; with ERR_GUARD_UNREACHABLE after `readyTimeout`; ERR_GUARD_CLOSED if
   * closed first. The guard keeps trying in the background either way, failing closed meanwhile.
   */
  ready(): Promise<void>;
  status(): GuardStatus;
  /** Stops the feed and the timers. */
  close(): Promise<void>;
}

/** Entries of the revoked set visited per prune tick (every second). */
const PRUNE_BUDGET = 50_000;

const basic = (c: { id: string; secret: string }) => `Basic ${btoa(`${encodeURIComponent(c.id)}:${encodeURIComponent(c.secret)}`)}`;

export function createGuard(input: GuardOptions): Guard {
  const options = resolveOptions(input);
  const discovery = new Discovery(options.issuer, options.endpoints ?? {}, options);
  const endpoint = (key: keyof GuardEndpoints) => () => discovery.get().then((e) => e[key]);
  const { logger } = options;
  const jwks = new JwksCache(endpoint('jwks'), { cooldown: options.jwksCooldown, maxAge: options.jwksMaxAge, maxStale: options.jwksMaxStale, timeout: options.timeout, fetch: options.fetch, logger });
  const authorization = options.client ? basic(options.client) : '';
  const introspector = options.client
    ? new Introspector(endpoint('introspection'), authorization, {
      size: options.introspectionCacheSize, ttl: options.introspectionCacheTtl, timeout: options.timeout, fetch: options.fetch, logger,
      verdict: (r) => revocations.check(factsOf(r), Math.floor(Date.now() / 1000)),
    })
    : undefined;
  const revocations = new RevocationSet(options.clockTolerance);
  const feed = options.revocations === 'feed'
    ? new FeedSubscriber({
      endpoints: () => discovery.get(),
      authorization,
      fetch: options.fetch,
      reconnectMin: options.reconnectMin,
      reconnectMax: options.reconnectMax,
      silence: options.maxStaleness,
      timeout: options.timeout,
      readyTimeout: options.readyTimeout,
      logger,
      apply(event) {
        revocations.add(event);
        introspector?.evict(event);
        options.onFeedEvent?.(event);
      },
    })
    : undefined;
  feed?.start();
  const pruner = setInterval(() => revocations.prune(Math.floor(Date.now() / 1000), PRUNE_BUDGET), 1000);
  pruner.unref();

  const staleness = () => (feed?.lastHeardAt === undefined ? Number.POSITIVE_INFINITY : Date.now() - feed.lastHeardAt);
  const isStale = () => feed !== undefined && (!feed.synced || staleness() > options.maxStaleness);
  const dpop = new DpopChecker(options);
  const parts: Parts = { options, jwtOptions: joseOptions(options), jwks, revocations, introspector, feed, dpop, isStale };
  const counters = { accepted: 0, refused: 0, unavailable: 0 };

  /** Every answer passes here: counted, and shown to the metric hook. */
  function done(result: GuardResult, started: number): GuardResult {
    if (result.ok) counters.accepted++;
    else if (result.status === 503) counters.unavailable++;
    else counters.refused++;
    options.onVerify?.(result, performance.now() - started);
    return result;
  }

  async function verifyToken(token: string, requiredScopes: readonly string[] = []): Promise<GuardResult> {
    const started = options.onVerify ? performance.now() : 0;
    return done(await checkToken(parts, token, requiredScopes), started);
  }

  /** RFC 9449 §7: the token and its proof, checked side by side (each may wait on the thread pool or the network). */
  async function verifyDpop(token: string, request: GuardRequest, requiredScopes: readonly string[]): Promise<GuardResult> {
    const started = options.onVerify ? performance.now() : 0;
    const proof = dpop.check(request.headers.get('dpop'), request, token);
    // checkToken may answer (a stale feed) without waiting for the proof.
    proof.catch(() => {});
    return done(await checkToken(parts, token, requiredScopes, proof), started);
  }

  return {
    verifyToken,
    async verifyHttp(request, requiredScopes = []) {
      const parsed = parseCredentials(request.headers.get('authorization'));
      if (parsed.kind === 'token') return verifyToken(parsed.token, requiredScopes);
      if (parsed.kind === 'dpop') return verifyDpop(parsed.token, request, requiredScopes);
      const started = options.onVerify ? performance.now() : 0;
      if (parsed.kind === 'missing') return done(missingToken(options.realm), started);
      // RFC 9449 §7.1: a request with the DPoP scheme is refused with a DPoP challenge, malformed or not.
      const refusal = invalidRequest(options.realm, parsed.description);
      return done(parsed.dpop ? asDpop(refusal, options.realm, dpop.algs) : refusal, started);
    },
    async verify(header, requiredScopes = []) {
      const parsed = parseAuthorization(header);
      if (parsed.kind === 'token') return verifyToken(parsed.token, requiredScopes);
      const started = options.onVerify ? performance.now() : 0;
      return done(parsed.kind === 'missing' ? missingToken(options.realm) : invalidRequest(options.realm, parsed.description), started);
    },
    ready: () => feed?.ready() ?? discovery.get().then(() => {}),
    status: () => ({
      feed: feed
        ? {
          state: feed.state, cursor: feed.cursor, synced: feed.synced, lastHeardAt: feed.lastHeardAt ?? null, staleness: staleness(),
          maxStaleness: options.maxStaleness, stale: isStale(), onStale: options.onStale, reconnects: feed.reconnects,
          lastError: feed.lastError?.message ?? null, lastErrorCode: feed.lastError?.code ?? null,
        }
        : null,
      revoked: revocations.size,
      introspectionCache: introspector?.size ?? 0,
      jwks: jwks.status(),
      dpopProofs: dpop.remembered,
      counters: { ...counters },
    }),
    async close() {
      clearInterval(pruner);
      await feed?.close();
    },
  };
}

/**
 * DPoP proofs at the resource server (RFC 9449 §7): checked as §4.3 says (@tessera/core/dpop)
 * against the request's method and URL and the access token (`ath`), each `jti` remembered in
 * this guard until its proof would be too old anyway (§11.1), and, when the guard asks for them,
 * nonces it provides (§9). Never throws: a refused proof is a GuardFailure with a DPoP challenge.
 */
import { randomBytes } from 'node:crypto';
import { DpopError, DpopNonces, DpopVerifier } from '@tessera/core/dpop';
import type { GuardRequest } from './guard.js';
import type { ResolvedOptions } from './options.js';
import { dpopFailure, type GuardFailure } from './result.js';

/** Seconds per nonce window; a nonce is accepted in its window and the next. */
const NONCE_STEP = 60;
/** Forgotten slots at the front of the arrival queue before it is compacted. */
const COMPACT_AFTER = 1024;

/**
 * A checked proof: its key's thumbprint, and `use`, which records its jti (false: a replay). The
 * caller uses the proof only once the token is accepted and bound to that key, so proofs sent
 * with junk tokens cannot fill the replay cache and push live entries out.
 */
export type ProofOutcome = { ok: true; jkt: string; use: () => boolean } | { ok: false; failure: GuardFailure };

/**
 * `jti` values until their proofs expire, bounded: entries go in roughly expiry order (every proof
 * lives as long), so expired ones are dropped from the front; when still full, the oldest goes.
 * The arrival order is a queue of its own, not the Map's: iterating a Map from its front walks
 * every entry deleted since its last rehash, so with the cache full each insertion scanned tens
 * of thousands of dead slots (30 to 100 µs each at 100,000 entries); the queue costs O(1).
 */
export class ReplayCache {
  private readonly until = new Map<string, number>();
  /** Arrival order from `head` on: each jti with the expiry it was remembered with. */
  private jtis: string[] = [];
  private expiries: number[] = [];
  private head = 0;

  constructor(private readonly max: number) {}

  /** Whether `jti` is remembered and its proof still lives. */
  has(jti: string, now: number): boolean {
    const known = this.until.get(jti);
    return known !== undefined && known > now;
  }

  /** true the first time `jti` is seen while its proof lives; false for a replay. */
  add(jti: string, until: number, now: number): boolean {
    const known = this.until.get(jti);
    if (known !== undefined) {
      if (known > now) return false;
      // Its old slot stays in the queue and is skipped there (its expiry is not the entry's).
      this.until.delete(jti);
    }
    this.prune(now);
    this.until.set(jti, until);
    this.jtis.push(jti);
    this.expiries.push(until);
    return true;
  }

  /** Expired entries leave from the front, and the oldest ones while the cache is full. */
  private prune(now: number): void {
    const { jtis, expiries } = this;
    while (this.head < jtis.length) {
      const expiry = expiries[this.head] as number;
      if (expiry > now && this.until.size < this.max) break;
      const jti = jtis[this.head] as string;
      if (this.until.get(jti) === expiry) this.until.delete(jti);
      this.head++;
    }
    if (this.head > COMPACT_AFTER && this.head * 2 > jtis.length) {
      this.jtis = jtis.slice(this.head);
      this.expiries = expiries.slice(this.head);
      this.head = 0;
    }
  }

  get size(): number {
    return this.until.size;
  }
}

export class DpopChecker {
  /** RFC 9449 §7.1: the `algs` of every DPoP challenge. */
  readonly algs: string;
  private readonly verifier: DpopVerifier;
  private readonly nonces: DpopNonces | undefined;
  private readonly seen: ReplayCache;

  constructor(private readonly options: ResolvedOptions) {
    const secret = options.dpopNonceSecret;
    const key = secret === undefined ? randomBytes(32) : typeof secret === 'string' ? Buffer.from(secret) : secret;
    this.nonces = options.dpopNonce ? new DpopNonces(key, NONCE_STEP) : undefined;
    this.verifier = new DpopVerifier({
      algorithms: options.dpopAlgorithms, lifetime: options.dpopProofLifetime, skew: options.clockTolerance, ...(this.nonces ? { nonces: this.nonces } : {}),
    });
    this.algs = options.dpopAlgorithms.join(' ');
    this.seen = new ReplayCache(options.dpopReplayCacheSize);
  }

  /** The proof in the `DPoP` header (null: none sent) for this request and access token. */
  async check(header: string | null | undefined, request: GuardRequest, token: string): Promise<ProofOutcome> {
    const refuse = (error: 'invalid_dpop_proof' | 'use_dpop_nonce', description: string): ProofOutcome =>
      ({ ok: false, failure: dpopFailure(this.options.realm, this.algs, error, description, error === 'use_dpop_nonce' ? this.nonces?.current() : undefined) });
    // RFC 9449 §7: the DPoP scheme comes with a proof.
    if (header === null || header === undefined) return refuse('invalid_dpop_proof', 'the DPoP scheme needs a DPoP proof header (RFC 9449 section 7)');
    try {
      const proof = await this.verifier.verify(header, { method: request.method, url: this.requestUri(request), accessToken: token });
      // RFC 9449 §11.1: a proof is used once (recorded by `use`, once the token is accepted).
      if (this.seen.has(proof.jti, Date.now())) return refuse('invalid_dpop_proof', 'the DPoP proof was used before (its jti is replayed)');
      return { ok: true, jkt: proof.jkt, use: () => this.seen.add(proof.jti, proof.replayableUntil, Date.now()) };
    } catch (err) {
      if (err instanceof DpopError) return refuse(err.error, err.description);
      throw err;
    }
  }

  /**
   * The URI a proof's htu must match (RFC 9449 §4.3 item 9): the request's URL, or with
   * expectedOrigin that origin and the request's path; '' (which matches no htu) for a request
   * target that has no path (RFC 9112 §3.2.4 asterisk-form).
   */
  private requestUri(request: GuardRequest): string {
    const origin = this.options.expectedOrigin;
    if (origin === undefined) return request.url;
    const target = request.path ?? request.url;
    if (target.startsWith('/')) return origin + target;
    // RFC 9112 §3.2.2 absolute-form, or the absolute URL of a fetch-API Request: its path and query.
    try {
      const url = new URL(target);
      return origin + url.pathname + url.search;
    } catch {
      return '';
    }
  }

  /** jti values remembered now. */
  get remembered(): number {
    return this.seen.size;
  }
}

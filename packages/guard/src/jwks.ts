/**
 * The issuer's signing keys (RFC 7517 JWK Set), cached by `kid`, each imported once. A token
 * naming an unknown `kid` (the server rotated its key) triggers a refetch, at most one per
 * cooldown: requests arriving inside the cooldown wait for that one fetch instead of being
 * refused.
 *
 * The set expires: once older than `maxAge`, the next token starts one refetch in the background
 * (shared, at most one per cooldown, so no thundering herd) and the old set serves meanwhile. A
 * key the new set lacks stops verifying. While refetches fail the old set is kept, but for
 * `maxStale` past `maxAge` at most: then every JWT gets a 503 until a fetch succeeds, as the
 * guard cannot tell whether the issuer withdrew a key.
 */
import { errors, importJWK, type JSONWebKeySet, type JWK, type JWTHeaderParameters } from 'jose';
import { GuardUnavailable, httpError, networkError } from './errors.js';
import type { GuardLogger } from './options.js';

/** Distinct verified headers remembered (a handful in practice: one per key and typ). */
const MAX_HEADERS = 64;

interface Known {
  jwk: JWK;
  /** The JWK imported for each algorithm it verified a header of (an RSA key serves RS* and PS*). */
  keys: Map<string, Promise<CryptoKey>>;
}

/**
 * RFC 7518 §3.1, RFC 8037 §3.1: whether a key of this type (and curve) makes signatures of `alg`.
 * A JWK without `alg` (RFC 7517 §4.4: optional) serves only the algorithms its type fits: any
 * other a header names is no key for it, rather than an import that fails or a key of the wrong
 * kind handed to the verifier.
 */
function fits(jwk: JWK, alg: string | undefined): boolean {
  if (jwk.kty === 'RSA') return alg !== undefined && /^(RS|PS)(256|384|512)$/.test(alg);
  if (jwk.kty === 'EC') return (jwk.crv === 'P-256' && alg === 'ES256') || (jwk.crv === 'P-384' && alg === 'ES384') || (jwk.crv === 'P-521' && alg === 'ES512');
  if (jwk.kty === 'OKP') return alg === 'EdDSA' || (alg === 'Ed25519' && jwk.crv === 'Ed25519');
  return false;
}

export interface JwksOptions {
  cooldown: number;
  maxAge: number;
  maxStale: number;
  timeout: number;
  fetch: typeof fetch;
  logger: GuardLogger | undefined;
}

export class JwksCache {
  /** By kid; a set of one key may also serve tokens without a kid. */
  private known: Map<string | undefined, Known> | undefined;
  /**
   * By encoded JWS header, once a token with that exact header has verified: the header fixes kid
   * and alg, so the key is known without decoding it again. Only verified headers get here (each
   * needs the issuer's signature), and a JWKS reload clears it.
   */
  private readonly byHeader = new Map<string, CryptoKey>();
  /** The last successful fetch: the age of the set. */
  private loadedAt = Number.NEGATIVE_INFINITY;
  /** The last attempt, successful or not: the cooldown counts from it. */
  private triedAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly url: () => Promise<string>,
    private readonly options: JwksOptions,
  ) {}

  /** A jose key resolver: `jwtVerify(token, jwks.getKey, …)`. */
  readonly getKey = async (header: JWTHeaderParameters): Promise<CryptoKey> => {
    if (this.expired()) {
      // Nothing trustworthy to verify with: fetch, unless a fetch failed inside the cooldown
      // (answer at once rather than hammer the server).
      if (!this.pending && Date.now() - this.triedAt < this.options.cooldown) throw new GuardUnavailable('the JWKS cannot be fetched');
      await this.refetch(0).catch(() => {});
      if (this.expired()) throw new GuardUnavailable('the JWKS cannot be fetched');
    } else this.refreshIfDue();
    let found = this.find(header);
    if (!found) {
      await this.refetch(this.options.cooldown).catch(() => {});
      found = this.find(header);
      if (!found) throw new errors.JWKSNoMatchingKey();
    }
    const alg = found.jwk.alg ?? (header.alg as string);
    let key = found.keys.get(alg);
    if (!key) {
      const imported = importJWK(found.jwk, alg) as Promise<CryptoKey>;
      key = imported;
      found.keys.set(alg, imported);
      // A failed import is not kept: a token with a forged header must not lock the key out for the tokens that follow.
      imported.catch(() => found.keys.delete(alg));
    }
    return key;
  };

  /** The key for a token whose header segment already verified once, while the set is current enough. */
  keyForHeader(segment: string): CryptoKey | undefined {
    if (this.expired()) return undefined;
    this.refreshIfDue();
    return this.byHeader.get(segment);
  }

  /** Records that tokens with this header segment verify with `key`. */
  remember(segment: string, key: CryptoKey): void {
    if (this.byHeader.size < MAX_HEADERS) this.byHeader.set(segment, key);
  }

  /** No set, or one kept past maxAge + maxStale because refetches failed. */
  private expired(): boolean {
    return !this.known || Date.now() - this.loadedAt > this.options.maxAge + this.options.maxStale;
  }

  /** Past maxAge: one background refetch, shared and paced by the cooldown. */
  private refreshIfDue(): void {
    const now = Date.now();
    if (this.pending || now - this.loadedAt <= this.options.maxAge || now - this.triedAt < this.options.cooldown) return;
    this.refetch(0).catch(() => {});
  }

  /** RFC 7517 §4.2, §4.4: a signing key whose alg (if stated; else its type's) is the header's. */
  private find(header: JWTHeaderParameters): Known | undefined {
    const k = this.known?.get(header.kid);
    if (!k || (k.jwk.use !== undefined && k.jwk.use !== 'sig')) return undefined;
    if (k.jwk.alg !== undefined ? k.jwk.alg !== header.alg : !fits(k.jwk, header.alg)) return undefined;
    return k;
  }

  /** Fetches the set once `cooldown` ms have passed since the last attempt; concurrent callers share it. */
  private refetch(cooldown: number): Promise<void> {
    this.pending ??= (async () => {
      const wait = this.triedAt + cooldown - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await this.load();
    })().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async load(): Promise<void> {
    this.triedAt = Date.now();
    let set: JSONWebKeySet;
    try {
      const url = await this.url();
      let res: Response;
      try {
        res = await this.options.fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.options.timeout) });
      } catch (cause) {
        throw networkError('the JWKS', cause);
      }
      if (res.status !== 200) throw await httpError('the JWKS', res, false);
      set = (await res.json()) as JSONWebKeySet;
      if (!Array.isArray(set?.keys)) throw new Error('the JWKS has no keys array');
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      if (message !== this.lastError) this.options.logger?.warn({ event: 'jwks.failed', ageMs: Date.now() - this.loadedAt }, `the JWKS cannot be fetched, keeping the old set for now: ${message}`);
      this.lastError = message;
      throw new GuardUnavailable('the JWKS cannot be fetched', { cause });
    }
    const known = new Map<string | undefined, Known>();
    for (const jwk of set.keys) {
      // Keep an imported key only if its JWK is unchanged: a reused kid must not keep old material.
      const old = this.known?.get(jwk.kid);
      known.set(jwk.kid, old && JSON.stringify(old.jwk) === JSON.stringify(jwk) ? old : { jwk, keys: new Map() });
    }
    if (set.keys.length === 1) known.set(undefined, known.get(set.keys[0]?.kid) as Known);
    const before = [...(this.known?.keys() ?? [])].filter((k) => k !== undefined);
    const after = set.keys.map((k) => k.kid);
    if (before.length !== after.length || before.some((k) => !after.includes(k))) this.options.logger?.info({ event: 'jwks.changed', kids: after }, 'the JWKS changed');
    this.known = known;
    this.byHeader.clear();
    this.loadedAt = Date.now();
    this.lastError = undefined;
  }

  status() {
    return {
      keys: new Set(this.known?.values()).size,
      fetchedAt: Number.isFinite(this.loadedAt) ? this.loadedAt : null,
      lastError: this.lastError ?? null,
    };
  }
}

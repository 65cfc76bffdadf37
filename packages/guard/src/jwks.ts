/**
 * The issuer's signing keys (RFC 7517 JWK Set), cached by `kid`, each imported once. A token
 * naming an unknown `kid` (the server rotated its key) triggers a refetch, at most one per
 * cooldown: requests arriving inside the cooldown wait for that one fetch instead of being
 * refused. An old set is refreshed in the background and keeps serving meanwhile.
 */
import { errors, importJWK, type JSONWebKeySet, type JWK, type JWTHeaderParameters } from 'jose';
import { GuardUnavailable } from './result.js';

/** Distinct verified headers remembered (a handful in practice: one per key and typ). */
const MAX_HEADERS = 64;

interface Known {
  jwk: JWK;
  key?: Promise<CryptoKey>;
}

export interface JwksOptions {
  cooldown: number;
  maxAge: number;
  timeout: number;
  fetch: typeof fetch;
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
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly url: () => Promise<string>,
    private readonly options: JwksOptions,
  ) {}

  /** A jose key resolver: `jwtVerify(token, jwks.getKey, …)`. */
  readonly getKey = async (header: JWTHeaderParameters): Promise<CryptoKey> => {
    if (!this.known) {
      // The set could not be fetched lately: answer at once rather than hammer the server.
      if (!this.pending && Date.now() - this.fetchedAt < this.options.cooldown) throw new GuardUnavailable('the JWKS cannot be fetched');
      await this.refetch(0);
    } else if (Date.now() - this.fetchedAt > this.options.maxAge) this.refetch(0).catch(() => {});
    let found = this.find(header);
    if (!found) {
      await this.refetch(this.options.cooldown);
      found = this.find(header);
      if (!found) throw new errors.JWKSNoMatchingKey();
    }
    found.key ??= importJWK(found.jwk, found.jwk.alg ?? header.alg) as Promise<CryptoKey>;
    return found.key;
  };

  /** The key for a token whose header segment already verified once, if any. */
  keyForHeader(segment: string): CryptoKey | undefined {
    return this.byHeader.get(segment);
  }

  /** Records that tokens with this header segment verify with `key`. */
  remember(segment: string, key: CryptoKey): void {
    if (this.byHeader.size < MAX_HEADERS) this.byHeader.set(segment, key);
  }

  /** RFC 7517 §4.2, §4.4: a signing key whose alg (if stated) is the header's. */
  private find(header: JWTHeaderParameters): Known | undefined {
    const k = this.known?.get(header.kid);
    if (!k || (k.jwk.use !== undefined && k.jwk.use !== 'sig') || (k.jwk.alg !== undefined && k.jwk.alg !== header.alg)) return undefined;
    return k;
  }

  /** Fetches the set once `cooldown` ms have passed since the last fetch; concurrent callers share it. */
  private refetch(cooldown: number): Promise<void> {
    this.pending ??= (async () => {
      const wait = this.fetchedAt + cooldown - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await this.load();
    })().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async load(): Promise<void> {
    let set: JSONWebKeySet;
    try {
      const res = await this.options.fetch(await this.url(), { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.options.timeout) });
      if (res.status !== 200) throw new Error(`JWKS answered ${res.status}`);
      set = (await res.json()) as JSONWebKeySet;
      if (!Array.isArray(set?.keys)) throw new Error('the JWKS has no keys array');
    } catch (cause) {
      // Until the first success there is nothing to verify with; later failures keep the old set.
      this.fetchedAt = Date.now();
      if (!this.known) throw new GuardUnavailable('the JWKS cannot be fetched', { cause });
      return;
    }
    const known = new Map<string | undefined, Known>();
    for (const jwk of set.keys) {
      // Keep an imported key only if its JWK is unchanged: a reused kid must not keep old material.
      const old = this.known?.get(jwk.kid);
      known.set(jwk.kid, old && JSON.stringify(old.jwk) === JSON.stringify(jwk) ? old : { jwk });
    }
    if (set.keys.length === 1) known.set(undefined, known.get(set.keys[0]?.kid) as Known);
    this.known = known;
    this.byHeader.clear();
    this.fetchedAt = Date.now();
  }

  status() {
    return { keys: new Set(this.known?.values()).size, fetchedAt: Number.isFinite(this.fetchedAt) ? this.fetchedAt : null };
  }
}

/**
 * DPoP (RFC 9449) at the authorization server: the proofs sent to /token and /par (§5, §10.1)
 * and to /userinfo (§7), checked as §4.3 says (@tessera/core/dpop), their `jti` recorded in the
 * database once the caller is known (Proof.spend) so a replay is refused on every instance (§11.1), and the nonces the server provides
 * (§8) when the `dpopNonce` setting asks for them. A request without a DPoP header costs nothing
 * here: check() answers undefined at once.
 */
import { OAuthError } from '@tessera/core';
import { DPOP_ALGORITHMS, DpopError, type DpopErrorCode, DpopNonces, DpopVerifier } from '@tessera/core/dpop';
import type { ServerConfig } from '../config.js';
import type { PlainRequest } from '../http/types.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';

/** Seconds a proof's iat may be ahead of this server's clock. */
const CLOCK_SKEW = 5;
/** Seconds each nonce window lasts; a nonce is accepted in its window and the next (DpopNonces). */
const NONCE_STEP = 60;

/** A proof that passed: the key tokens are bound to, the headers the answer carries (a new DPoP-Nonce, §8.2), and how to spend it. */
export interface Proof {
  jkt: string;
  headers: Record<string, string>;
  /**
   * Records the proof's jti, refusing a replay (RFC 9449 §11.1, on whichever instance). Called once
   * the client (or the token, at /userinfo) is known to be good, so an unauthenticated caller's
   * proofs cost the server no write.
   */
  spend(): Promise<void>;
}

/** How an endpoint answers a refused proof: 400 JSON at /token and /par, 401 with a challenge at /userinfo. */
export type Refusal = (error: DpopErrorCode, description: string, headers: Record<string, string>) => OAuthError;

const asTokenError: Refusal = (error, description, headers) => new OAuthError(error, description, { headers });

/** RFC 7638 thumbprints are SHA-256, base64url: 43 characters. */
export const JKT = /^[A-Za-z0-9_-]{43}$/;

export class DpopProofs {
  private verifier: DpopVerifier | Promise<DpopVerifier> | undefined;
  private nonces: DpopNonces | undefined;

  constructor(
    private readonly engine: LifecycleEngine,
    private readonly config: Pick<ServerConfig, 'issuer' | 'dpopProofLifetime' | 'dpopNonce'>,
  ) {
    if (!config.dpopNonce) this.verifier = new DpopVerifier(this.rules());
  }

  private rules(nonces?: DpopNonces) {
    return { algorithms: DPOP_ALGORITHMS, lifetime: this.config.dpopProofLifetime, skew: CLOCK_SKEW, ...(nonces ? { nonces } : {}) };
  }

  /** With nonces, the verifier waits for the key every instance shares (read, or made, once). */
  private ready(): DpopVerifier | Promise<DpopVerifier> {
    this.verifier ??= this.engine.dpopNonceKey().then(
      (key) => {
        this.nonces = new DpopNonces(key, NONCE_STEP);
        this.verifier = new DpopVerifier(this.rules(this.nonces));
        return this.verifier;
      },
      (err: unknown) => {
        // Asked again by the next request (the database may be back).
        this.verifier = undefined;
        throw err;
      },
    );
    return this.verifier;
  }

  /**
   * The request's DPoP proof, checked against `path` on this server (the endpoint's URL as the
   * metadata names it: behind a proxy the issuer, not the Host header, says where the client sent
   * it) and, at a resource, against `accessToken` (`ath`). Undefined when the request carries no
   * DPoP header. Throws what `refuse` makes of a refused proof.
   */
  check(req: PlainRequest, path: string, accessToken?: string, refuse: Refusal = asTokenError): Promise<Proof> | undefined {
    const header = req.headers.dpop;
    if (header === undefined) return undefined;
    return this.verify(header, req.method, this.config.issuer + path, accessToken, refuse);
  }

  private async verify(header: string, method: string, url: string, accessToken: string | undefined, refuse: Refusal): Promise<Proof> {
    const verifier = await this.ready();
    let checked: Awaited<ReturnType<DpopVerifier['verify']>>;
    try {
      checked = await verifier.verify(header, accessToken === undefined ? { method, url } : { method, url, accessToken });
    } catch (err) {
      if (!(err instanceof DpopError)) throw err;
      // RFC 9449 §8: use_dpop_nonce comes with the nonce to use.
      throw refuse(err.error, err.description, err.error === 'use_dpop_nonce' && this.nonces ? { 'dpop-nonce': this.nonces.current() } : {});
    }
    // RFC 9449 §11.1: a proof is used once, on whichever instance.
    const spend = async () => {
      if ((await this.engine.recordDpopProof(checked.jkt, checked.jti, checked.replayableUntil)) === 'replayed') {
        throw refuse('invalid_dpop_proof', 'the DPoP proof was used before (its jti is replayed, RFC 9449 section 11.1)', {});
      }
    };
    // RFC 9449 §8.2: a proof with the previous window's nonce is answered with the current one.
    return { jkt: checked.jkt, headers: checked.staleNonce && this.nonces ? { 'dpop-nonce': this.nonces.current() } : {}, spend };
  }
}

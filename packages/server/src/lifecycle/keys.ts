/**
 * Signing keys: one current key per algorithm, RS256 (RSA 2048) and ES256 (P-256), each generated
 * at the first start that finds none of its algorithm. `rotate` adds a new current key for one
 * algorithm and keeps the old public key in the JWKS until the last token it signed has expired.
 * ID Tokens are signed with their client's algorithm (oidc/id-token.ts), JWT access tokens with
 * the server's accessTokenAlg, ES256 by default (rfc9068/access-token.ts).
 */
import { createPrivateKey, type KeyObject, type SignKeyObjectInput, sign } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload } from 'jose';
import { randomId } from '../secrets.js';
import type { AuditInput, KeyRecord, SigningAlg, Store } from '../store/types.js';

/**
 * What the key ring signs with. OpenID Connect Core §15.1: an OP MUST support RS256 for ID
 * Tokens; ES256 signs JWT access tokens by default (shorter, and faster to sign) and ID Tokens on request.
 */
export const SIGNING_ALGS = ['RS256', 'ES256'] as const satisfies readonly SigningAlg[];
/** Another process (the CLI) may rotate keys: re-read them at most this often. */
const RELOAD_MS = 2000;

interface LoadedKey {
  record: KeyRecord;
  /** The key as node:crypto's sign takes it for its algorithm, made once rather than per signature. */
  signWith: KeyObject | SignKeyObjectInput;
  /** The encoded protected header, by typ. */
  headers: Map<string, string>;
}

const b64url = (text: string) => Buffer.from(text).toString('base64url');

/**
 * RFC 7518 §3.3 RS256: RSASSA-PKCS1-v1_5 with SHA-256, node's default padding for an RSA key.
 * §3.4 ES256: ECDSA P-256 with SHA-256, the signature R || S (IEEE P1363), not DER.
 */
function signWith(alg: SigningAlg, key: KeyObject): LoadedKey['signWith'] {
  return alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
}

/** SHA-256 and the key's algorithm over the signing input, on the thread pool. */
const signOnPool = (input: string, key: LoadedKey['signWith']) =>
  new Promise<Buffer>((resolve, reject) => {
    sign('sha256', Buffer.from(input), key, (err, signature) => (err ? reject(err) : resolve(signature)));
  });

/** The key an algorithm signs with: its newest unretired key, else its newest (KeyRing and `keys list` agree). */
export function currentKey(records: readonly KeyRecord[], alg: SigningAlg): KeyRecord | undefined {
  const mine = records.filter((k) => k.alg === alg);
  return mine.findLast((k) => k.retireAt === null) ?? mine.at(-1);
}

export class KeyRing {
  private keys: LoadedKey[] = [];
  /** Each algorithm's signing key, chosen at each load so that signing only looks it up. */
  private current = new Map<SigningAlg, LoadedKey>();
  private loadedAt = 0;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads the keys, generating one for each algorithm the store has none of (a new store, or one from before RS256). */
  async init(): Promise<void> {
    await this.reload();
    for (const alg of SIGNING_ALGS) {
      if (!this.current.has(alg)) await this.rotate(alg, null, { event: 'key.created', actor: 'system' });
    }
  }

  private async reload(): Promise<void> {
    const records = await this.store.listKeys();
    const keys: LoadedKey[] = [];
    for (const record of records) {
      const cached = this.keys.find((k) => k.record.kid === record.kid);
      // The record is re-read (a rotation sets retire_at); the imported key and headers are kept.
      keys.push(cached ? { ...cached, record } : {
        record,
        signWith: signWith(record.alg, createPrivateKey({ key: JSON.parse(record.privateJwk) as JWK & { kty: string }, format: 'jwk' })),
        headers: new Map(),
      });
    }
    const current = new Map<SigningAlg, LoadedKey>();
    for (const alg of SIGNING_ALGS) {
      const record = currentKey(records, alg);
      const key = keys.find((k) => k.record === record);
      if (key) current.set(alg, key);
    }
    this.keys = keys;
    this.current = current;
    this.loadedAt = this.now();
  }

  private async fresh(): Promise<void> {
    if (this.now() - this.loadedAt < RELOAD_MS) return;
    this.loading ??= this.reload().finally(() => { this.loading = undefined; });
    await this.loading;
  }

  /**
   * Adds a new current key for `alg`; that algorithm's earlier keys stay published until `retireAt` (ms).
   * With `retireAt` null (init: the first key) the store keeps another process's, if it made one
   * first, and that one is returned.
   */
  async rotate(alg: SigningAlg, retireAt: number | null, audit: AuditInput): Promise<KeyRecord> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
    const kid = randomId();
    const record: KeyRecord = {
      kid,
      alg,
      privateJwk: JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg }),
      publicJwk: JSON.stringify({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }),
      createdAt: this.now(),
      retireAt: null,
    };
    const added = await this.store.addKey(record, retireAt, [{ ...audit, data: { kid, alg, ...audit.data } }]);
    await this.reload();
    // Not added: the first key another process added before this one.
    return added ? record : this.current.get(alg)!.record;
  }

  /**
   * Signs a JWT with the current key of `alg`: the JWS compact serialization (RFC 7515 §7.1) of
   * the payload under a protected header { alg, kid, typ }. node:crypto signs on the thread pool;
   * jose's WebCrypto path took ~30 % of the event loop's time per JWT issued. Tests verify the
   * result with jose against /jwks.json.
   */
  async sign(payload: JWTPayload, typ: string, alg: SigningAlg): Promise<string> {
    await this.fresh();
    const key = this.current.get(alg);
    if (!key) throw new Error(`no ${alg} signing key: KeyRing.init() was not called`);
    let header = key.headers.get(typ);
    if (header === undefined) {
      header = b64url(JSON.stringify({ alg, kid: key.record.kid, typ }));
      key.headers.set(typ, header);
    }
    const input = `${header}.${b64url(JSON.stringify(payload))}`;
    return `${input}.${(await signOnPool(input, key.signWith)).toString('base64url')}`;
  }

  /** The public keys still in use, of every algorithm (RFC 7517 JWK Set). */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.fresh();
    const now = this.now();
    return {
      keys: this.keys.filter((k) => k.record.retireAt === null || k.record.retireAt > now).map((k) => JSON.parse(k.record.publicJwk) as JWK),
    };
  }
}

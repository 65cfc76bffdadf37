/**
 * Signing keys. An ES256 key is generated on first start; `rotate` adds a new current key and
 * keeps the old public key in the JWKS until the last token it signed has expired.
 */
import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload } from 'jose';
import { randomId } from '../secrets.js';
import type { AuditInput, KeyRecord, Store } from '../store/types.js';

/** What every key signs with (JWT access tokens, ID Tokens). */
export const ALG = 'ES256';
/** Another process (the CLI) may rotate keys: re-read them at most this often. */
const RELOAD_MS = 2000;

interface LoadedKey {
  record: KeyRecord;
  privateKey: KeyObject;
  /** The encoded protected header, by typ. */
  headers: Map<string, string>;
}

const b64url = (text: string) => Buffer.from(text).toString('base64url');

/** ES256 over the signing input on the thread pool; the signature is R || S (RFC 7518 §3.4). */
const es256 = (input: string, key: KeyObject) =>
  new Promise<Buffer>((resolve, reject) => {
    sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }, (err, signature) => (err ? reject(err) : resolve(signature)));
  });

export class KeyRing {
  private keys: LoadedKey[] = [];
  private loadedAt = 0;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads the keys, generating the first one if the store has none. */
  async init(): Promise<void> {
    await this.reload();
    if (this.keys.length === 0) {
      await this.rotate(null, { event: 'key.created', actor: 'system' });
    }
  }

  private async reload(): Promise<void> {
    const records = await this.store.listKeys();
    const keys: LoadedKey[] = [];
    for (const record of records) {
      const cached = this.keys.find((k) => k.record.kid === record.kid);
      // The record is re-read (a rotation sets retire_at); the imported key and headers are kept.
      keys.push(cached ? { ...cached, record } : { record, privateKey: createPrivateKey({ key: JSON.parse(record.privateJwk) as JWK & { kty: string }, format: 'jwk' }), headers: new Map() });
    }
    this.keys = keys;
    this.loadedAt = this.now();
  }

  private async fresh(): Promise<void> {
    if (this.now() - this.loadedAt < RELOAD_MS) return;
    this.loading ??= this.reload().finally(() => { this.loading = undefined; });
    await this.loading;
  }

  /** Adds a new current key; earlier keys stay published until `retireAt` (ms). */
  async rotate(retireAt: number | null, audit: AuditInput): Promise<KeyRecord> {
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = randomId();
    const record: KeyRecord = {
      kid,
      alg: ALG,
      privateJwk: JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: ALG }),
      publicJwk: JSON.stringify({ ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' }),
      createdAt: this.now(),
      retireAt: null,
    };
    await this.store.addKey(record, retireAt, [{ ...audit, data: { kid, ...audit.data } }]);
    await this.reload();
    return record;
  }

  private current(): LoadedKey {
    const key = this.keys.findLast((k) => k.record.retireAt === null) ?? this.keys.at(-1);
    if (!key) throw new Error('no signing key: KeyRing.init() was not called');
    return key;
  }

  /**
   * Signs a JWT with the current key: the JWS compact serialization (RFC 7515 §7.1) of the payload
   * under a protected header { alg, kid, typ }. node:crypto signs on the thread pool; jose's
   * WebCrypto path took ~30 % of the event loop's time per JWT issued. Tests verify the result
   * with jose against /jwks.json.
   */
  async sign(payload: JWTPayload, typ: string): Promise<string> {
    await this.fresh();
    const key = this.current();
    let header = key.headers.get(typ);
    if (header === undefined) {
      header = b64url(JSON.stringify({ alg: key.record.alg, kid: key.record.kid, typ }));
      key.headers.set(typ, header);
    }
    const input = `${header}.${b64url(JSON.stringify(payload))}`;
    return `${input}.${(await es256(input, key.privateKey)).toString('base64url')}`;
  }

  /** The public keys still in use (RFC 7517 JWK Set). */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.fresh();
    const now = this.now();
    return {
      keys: this.keys.filter((k) => k.record.retireAt === null || k.record.retireAt > now).map((k) => JSON.parse(k.record.publicJwk) as JWK),
    };
  }
}

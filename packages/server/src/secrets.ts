/**
 * The one door for secrets: random values, hashing and constant-time comparison.
 * Opaque tokens and client secrets carry ≥ 256 random bits, so a fast hash (SHA-256) stores
 * them safely; only human-chosen passwords get the slow, salted KDF (scrypt).
 */
import {
  createCipheriv, createDecipheriv, hash, randomBytes, randomFillSync, randomInt, scrypt, timingSafeEqual, type BinaryLike, type ScryptOptions,
} from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

/**
 * Random bytes drawn from a pool: one randomFillSync (the same CSPRNG as randomBytes) fills 8 KiB,
 * and each call encodes the next unused `n` bytes straight to a string. randomBytes cost ~4 µs a
 * call (a Buffer and a trip into the CSPRNG each time), and every issued token takes three. Bytes
 * are never handed out twice: the offset only moves forward, and the pool is refilled in place
 * once fewer than `n` bytes are left (the encoded strings are copies, so nothing refers to it).
 * Node's own crypto.randomUUID batches its randomness the same way.
 */
const POOL_BYTES = 8192;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let used = POOL_BYTES;

function randomString(n: number, encoding: 'hex' | 'base64url'): string {
  if (used + n > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const out = pool.toString(encoding, used, used + n);
  used += n;
  return out;
}

/** 256 random bits, base64url, with an optional prefix that secret scanners can match. */
export const randomSecret = (prefix = ''): string => prefix + randomString(32, 'base64url');

/**
 * A row identifier, never a credential: 48 bits of milliseconds since 1970, then 80 random bits
 * (the layout of a UUIDv7). Ids made one after another sort together, so inserting them touches
 * the rightmost pages of an index instead of a random page each (fewer pages written per commit).
 * Hex, so an id never starts with '-' (it is a CLI argument: `tessera client show ID`) and
 * selects as one word.
 */
export const randomId = (): string => Date.now().toString(16).padStart(12, '0') + randomString(10, 'hex');

/**
 * A credential that names its own row (the split-token pattern): prefix, the row's id, then 256
 * random bits. The store finds the row by its id and the caller compares the SHA-256 of the whole
 * value with the stored one in constant time, so no index over hashes is kept: that index took a
 * random page per issued token, in every commit.
 */
export const secretFor = (prefix: string, id: string): string => prefix + id + randomString(32, 'base64url');

const SECRET_FOR = /^[a-z]+_([0-9a-f]{32})[\w-]{43}$/;

/** The row id a value made by secretFor names, if it has that shape. */
export const idInSecret = (value: string): string | undefined => SECRET_FOR.exec(value)?.[1];

/**
 * RFC 8628 §6.1: user codes are typed by people, so they use an alphabet without vowels (no words
 * spelt by accident), and without letters read alike once case is dropped; 20 letters.
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
/** Letters in a user code: 20^8 ≈ 2^34.5 codes, shown as XXXX-XXXX. */
export const USER_CODE_LENGTH = 8;

/** A user code (RFC 8628 §6.1), uniformly drawn from USER_CODE_ALPHABET, without its dash. */
export function randomUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/**
 * SHA-256 of a high-entropy secret (UTF-8), base64url: what the store keeps instead of the secret.
 * crypto.hash is the one-shot form of createHash().update().digest(): same digest, no Hash object.
 */
export const hashSecret = (value: string): string => hash('sha256', value, 'base64url');

/** Constant-time comparison of two hashes produced by hashSecret. */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

function scryptAsync(password: BinaryLike, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Salted scrypt for user passwords: `scrypt$N$r$p$salt$hash`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password.normalize('NFKC'), salt, 32, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(password.normalize('NFKC'), Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(key, expected);
}

/**
 * A key that seals secrets the server must be able to read again (client_secret_jwt: the secret
 * is the HMAC key, OpenID Connect Core §9): 32 bytes, base64 or base64url, in a file of its own
 * that only its owner may read. It stays outside the database, so a copy of the database alone
 * (a backup, a replica) holds no usable secret.
 */
export function readSealingKey(path: string): Buffer {
  let text: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0) throw new Error(`${path} must be readable by its owner only (chmod 600)`);
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code ? `cannot read the client secret key file ${path} (${code})` : (err as Error).message);
  }
  const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32) throw new Error(`the client secret key file ${path} must hold 32 bytes, base64 (openssl rand -base64 32)`);
  return key;
}

/** AES-256-GCM of `secret` under `key`, bound to `context` (the client id) so a sealed value cannot be moved to another row: `v1.iv.ciphertext.tag`. */
export function sealSecret(key: Buffer, secret: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), sealed.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** The secret sealed by sealSecret, or undefined if it was sealed under another key or context, or altered. */
export function openSealedSecret(key: Buffer, sealed: string, context: string): string | undefined {
  const [version, iv, data, tag] = sealed.split('.');
  if (version !== 'v1' || iv === undefined || data === undefined || tag === undefined) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * DPoP proofs (RFC 9449), checked as §4.3 says, for the authorization server (token, PAR and
 * userinfo endpoints) and the guard alike: one implementation of the rules, on node:crypto (the
 * signature is verified on the thread pool, as the guard verifies access tokens). What a proof is
 * checked against (the request's method and URL, the access token, the nonces in force) is the
 * caller's; so is remembering `jti` values against replay (§11.1), for which the result names how
 * long the proof could be accepted.
 *
 * A separate entry point (`@tessera/core/dpop`): the main one stays free of Node builtins.
 */
import { constants, createHmac, createPublicKey, hash, type KeyObject, timingSafeEqual, verify } from 'node:crypto';

/**
 * RFC 9449 §5.1 dpop_signing_alg_values_supported: asymmetric algorithms only (§4.2: never `none`
 * or a MAC). Ed25519 is RFC 9864's fully-specified name for EdDSA over Ed25519, which clients such
 * as oauth4webapi sign with.
 */
export const DPOP_ALGORITHMS = ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const;

/** RFC 9449 §5, §7.1 error codes: a bad proof, or one without the nonce the server requires (§8, §9). */
export type DpopErrorCode = 'invalid_dpop_proof' | 'use_dpop_nonce';

/** Why a proof was refused; the description names the check that failed, never a value from the proof. */
export class DpopError extends Error {
  constructor(
    readonly error: DpopErrorCode,
    readonly description: string,
  ) {
    super(description);
    this.name = 'DpopError';
  }
}

export interface DpopRules {
  /** Algorithms accepted (a subset of DPOP_ALGORITHMS). */
  algorithms: readonly string[];
  /** Seconds a proof is accepted after its `iat` (§11.1: a short window). */
  lifetime: number;
  /** Seconds a proof's `iat` may lie in the future (clock skew). */
  skew: number;
  /** Nonces the caller provides (§8, §9); undefined: no nonce is required, and any sent is ignored. */
  nonces?: DpopNonces;
}

/** The request a proof must match (§4.3 items 8, 9 and 12). */
export interface DpopTarget {
  method: string;
  /** The request's absolute URL (its query and fragment are ignored). */
  url: string;
  /** Presented with an access token (§7): the proof's `ath` must be its hash. */
  accessToken?: string;
}

/** A proof that passed every check. */
export interface CheckedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key, base64url: what tokens are bound to (`cnf.jkt`, §6). */
  jkt: string;
  jti: string;
  /** When (ms since the epoch) the proof is first refused as too old: until then its jti must be remembered (§11.1). */
  replayableUntil: number;
  /** The nonce the proof carries when it is not the current one (or none was sent): send `DPoP-Nonce` with the answer (§8.2). */
  staleNonce: boolean;
}

/** The longest proof accepted, in characters: an RSA-4096 key's proof is under 2 KiB. */
const MAX_PROOF = 8192;
/** The longest `jti` accepted (§4.2 asks for at least 96 random bits; 128 bits is 22 characters). */
const MAX_JTI = 256;
/** Header segments remembered with their imported key, per verifier. */
const KEY_CACHE = 1024;
/** RFC 7517 §9.2: members that hold private key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

interface ProofKey {
  alg: string;
  key: KeyObject;
  jkt: string;
}

const b64url = /^[A-Za-z0-9_-]*$/;
/** Lone surrogates and control characters (NUL included): no text every store keeps apart. */
const NOT_TEXT = /[\p{Cc}\p{Cs}]/u;
const B64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The bytes of a base64url segment if it is their one canonical encoding (RFC 7515 §2: no
 * padding, RFC 4648 §5 alphabet, spare bits zero), else undefined. Checked on the text, so the
 * bytes are decoded once and never encoded back.
 */
function canonical(segment: string): Buffer | undefined {
  const rest = segment.length % 4;
  if (segment === '' || rest === 1 || !b64url.test(segment)) return undefined;
  // RFC 4648 §3.5: the low bits of the last character that encode no byte are zero.
  const spare = rest === 2 ? 0x0f : rest === 3 ? 0x03 : 0;
  if ((B64URL_ALPHABET.indexOf(segment.charAt(segment.length - 1)) & spare) !== 0) return undefined;
  return Buffer.from(segment, 'base64url');
}

function jsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const invalid = (description: string) => new DpopError('invalid_dpop_proof', description);
const str = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** RFC 7638 §3.2: the required members of the key type, in lexicographic order, no whitespace. */
function thumbprintInput(jwk: Record<string, unknown>): string | undefined {
  switch (jwk.kty) {
    case 'EC':
      return str(jwk.crv) && str(jwk.x) && str(jwk.y) ? JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y }) : undefined;
    case 'RSA':
      return str(jwk.e) && str(jwk.n) ? JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n }) : undefined;
    case 'OKP':
      return str(jwk.crv) && str(jwk.x) ? JSON.stringify({ crv: jwk.crv, kty: 'OKP', x: jwk.x }) : undefined;
    default:
      return undefined;
  }
}

/** RFC 7638: the SHA-256 JWK thumbprint of a public JWK, base64url; undefined for a key type it does not cover. */
export function jwkThumbprint(jwk: Record<string, unknown>): string | undefined {
  const input = thumbprintInput(jwk);
  return input === undefined ? undefined : hash('sha256', input, 'base64url');
}

/** RFC 9449 §4.2, §7.1: `ath`, the access token's SHA-256, base64url. */
export const accessTokenHash = (token: string): string => hash('sha256', token, 'base64url');

/** Whether the key type and curve are the ones `alg` signs with (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864 §2.2). */
function keyFits(alg: string, jwk: Record<string, unknown>): boolean {
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  if (alg === 'RS256' || alg === 'PS256') return jwk.kty === 'RSA';
  if (alg === 'EdDSA') return jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || jwk.crv === 'Ed448');
  if (alg === 'Ed25519') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return false;
}

/** Octets of an EC coordinate (RFC 7518 §6.2.1.2-3) or an OKP public key (RFC 8037 §2), by curve. */
const KEY_OCTETS: Readonly<Record<string, number>> = { 'P-256': 32, Ed25519: 32, Ed448: 57 };

/**
 * The decoded members of a public JWK whose type and curve keyFits accepted, if each is the one
 * canonical base64url encoding of its octets (canonical()) and of the size its key type says;
 * else undefined.
 */
function keyMaterial(jwk: Record<string, unknown>): { e?: Buffer } | undefined {
  const decode = (v: unknown) => (typeof v === 'string' ? canonical(v) : undefined);
  if (jwk.kty === 'RSA') {
    const n = decode(jwk.n);
    const e = decode(jwk.e);
    // RFC 7518 §2 Base64urlUInt: the minimum number of octets, so no leading zero octet.
    return n === undefined || e === undefined || n[0] === 0 || e[0] === 0 ? undefined : { e };
  }
  const size = KEY_OCTETS[jwk.crv as string];
  if (size === undefined || decode(jwk.x)?.length !== size) return undefined;
  if (jwk.kty === 'EC' && decode(jwk.y)?.length !== size) return undefined;
  return {};
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const URI_CHARACTERS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;

/**
 * A URL as §4.3 compares `htu`: without query and fragment, after RFC 3986 §6.2.2 syntax-based
 * normalisation (case of scheme and host, percent-encoding, dot segments) and §6.2.3 scheme-based
 * normalisation (default port, empty path): the WHATWG parser does all but percent-encoding,
 * done here. Undefined for anything but an absolute http(s) URL.
 */
export function normalizeHtu(value: string): string | undefined {
  // RFC 3986 §2: a URI holds these characters only. The WHATWG parser would also take (and drop or
  // rewrite) spaces, tabs, newlines, other controls and backslashes, so that "…/token\u0000" matched.
  if (!URI_CHARACTERS.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  // RFC 3986 §6.2.2.1-2: percent-encodings in upper case, unreserved characters decoded.
  const path = url.pathname.replace(/%[0-9a-fA-F]{2}/g, (encoded) => {
    const c = String.fromCharCode(Number.parseInt(encoded.slice(1), 16));
    return UNRESERVED.test(c) ? c : encoded.toUpperCase();
  });
  const userinfo = url.username === '' && url.password === '' ? '' : `${url.username}:${url.password}@`;
  return `${url.protocol}//${userinfo}${url.host}${path}`;
}

/** The request URL without query and fragment, as a client computes `htu` (§4.2). */
function withoutQuery(url: string): string {
  const q = url.search(/[?#]/);
  return q < 0 ? url : url.slice(0, q);
}

/** Verifies `signature` over `input` on the thread pool (RFC 7518 §3.3, §3.4, §3.5; RFC 8037 §3.1 for EdDSA and Ed25519). */
function signatureValid(alg: string, key: KeyObject, input: Buffer, signature: Buffer): Promise<boolean> {
  // RFC 7518 §3.4: an ES256 signature is R || S, 32 octets each.
  if (alg === 'ES256' && signature.length !== 64) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (err: Error | null, ok: boolean) => resolve(err === null && ok);
    try {
      if (alg === 'ES256') verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature, done);
      else if (alg === 'RS256') verify('sha256', input, key, signature, done);
      // RFC 7518 §3.5: the salt is as long as the hash.
      else if (alg === 'PS256') verify('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature, done);
      else verify(null, input, key, signature, done);
    } catch {
      resolve(false);
    }
  });
}

/**
 * Server-provided nonces (RFC 9449 §8, §9) that need no storage: an HMAC of the time window under
 * a key every instance shares, so each accepts what any other handed out. A nonce is accepted in
 * its window and the next one.
 */
export class DpopNonces {
  private window = -1;
  private values: [current: string, previous: string] = ['', ''];

  /** `key`: at least 32 bytes, the same for every instance; `step`: seconds per window. */
  constructor(
    private readonly key: Uint8Array,
    private readonly step = 60,
    private readonly now: () => number = Date.now,
  ) {
    if (key.byteLength < 32) throw new TypeError('DpopNonces: the key must have at least 32 bytes');
  }

  private mac(window: number): string {
    return createHmac('sha256', this.key).update(`tessera-dpop-nonce:${window}`).digest('base64url');
  }

  private refresh(): [string, string] {
    const window = Math.floor(this.now() / 1000 / this.step);
    if (window !== this.window) {
      this.values = [this.mac(window), window === this.window + 1 ? this.values[0] : this.mac(window - 1)];
      this.window = window;
    }
    return this.values;
  }

  /** The nonce to hand out now (`DPoP-Nonce`). */
  current(): string {
    return this.refresh()[0];
  }

  /** 'current', 'previous' (still accepted) or undefined (unknown or expired), compared in constant time. */
  check(value: string): 'current' | 'previous' | undefined {
    const [current, previous] = this.refresh();
    const given = Buffer.from(value);
    const same = (expected: string) => given.length === expected.length && timingSafeEqual(given, Buffer.from(expected));
    return same(current) ? 'current' : same(previous) ? 'previous' : undefined;
  }
}

/**
 * Checks DPoP proofs under one set of rules. Keeps the keys of proof headers it has seen (a client
 * sends the same header with each proof): a header seen before is not parsed or imported again.
 */
export class DpopVerifier {
  private readonly keys = new Map<string, ProofKey>();
  private readonly algorithms: ReadonlySet<string>;
  /** The last access token's hash: a client presents one token many times. */
  private lastToken = '';
  private lastAth = '';

  constructor(private readonly rules: DpopRules) {
    for (const alg of rules.algorithms) {
      if (!(DPOP_ALGORITHMS as readonly string[]).includes(alg)) throw new TypeError(`DpopVerifier: ${alg} is not a DPoP algorithm (${DPOP_ALGORITHMS.join(', ')})`);
    }
    this.algorithms = new Set(rules.algorithms);
  }

  /**
   * RFC 9449 §4.3: `header` is the DPoP request header as received (repeated fields joined with
   * commas, as HTTP allows); throws DpopError naming the first check that failed.
   */
  async verify(header: string, target: DpopTarget, now = Date.now()): Promise<CheckedProof> {
    // §4.3 items 1 and 2: one header field holding one JWT. A JWS has no comma, so a comma means
    // several fields (RFC 9110 §5.3 joins them so).
    if (header.includes(',')) throw invalid('more than one DPoP header (RFC 9449 section 4.3)');
    if (header.length > MAX_PROOF) throw invalid('the DPoP proof is too long');
    const proof = header.trim();
    const first = proof.indexOf('.');
    const second = proof.indexOf('.', first + 1);
    if (first < 0 || second < 0 || proof.indexOf('.', second + 1) >= 0) throw invalid('the DPoP proof is not a compact JWS');
    const headerSegment = proof.slice(0, first);
    const key = this.keys.get(headerSegment) ?? this.proofKey(headerSegment);
    const payloadBytes = canonical(proof.slice(first + 1, second));
    const signature = canonical(proof.slice(second + 1));
    if (payloadBytes === undefined || signature === undefined) throw invalid('the DPoP proof is not canonical base64url');

    const claims = jsonObject(payloadBytes);
    if (claims === undefined) throw invalid('the DPoP proof payload is not a JSON object');
    // §4.3 item 3: the claims of §4.2.
    const { jti, htm, htu, iat } = claims;
    if (!str(jti) || !str(htm) || !str(htu) || typeof iat !== 'number' || !Number.isFinite(iat)) {
      throw invalid('the DPoP proof lacks jti, htm, htu or iat (RFC 9449 section 4.2)');
    }
    if (jti.length > MAX_JTI) throw invalid('the DPoP proof jti is too long');
    // A lone surrogate is no text a store can keep apart from U+FFFD (PostgreSQL replaces it), so
    // two such jtis would collide; PostgreSQL holds no NUL. Refused alike on every store, as a
    // client assertion's jti is (rfc7523), rather than taken for a replay on one store only.
    if (NOT_TEXT.test(jti)) throw invalid('the DPoP proof jti is not text: a control character or a lone surrogate');
    // §4.3 item 8: htm is the request's method (methods are case-sensitive, RFC 9110 §9.1).
    if (htm !== target.method) throw invalid('the DPoP proof htm does not match the request method');
    // §4.3 item 9: htu is the request's URI, query and fragment ignored, compared after normalisation.
    const url = withoutQuery(target.url);
    if (htu !== url) {
      const normal = normalizeHtu(htu);
      if (normal === undefined || normal !== normalizeHtu(url)) throw invalid('the DPoP proof htu does not match the request URI');
    }
    // §4.3 item 11, §11.1: created within the window (a little clock skew allowed ahead).
    const seconds = now / 1000;
    if (iat > seconds + this.rules.skew) throw invalid('the DPoP proof iat is in the future');
    if (iat < seconds - this.rules.lifetime) throw invalid('the DPoP proof is too old (iat)');
    // §4.3 item 12, §7: presented with an access token, ath is its hash.
    if (target.accessToken !== undefined && claims.ath !== this.ath(target.accessToken)) {
      throw invalid('the DPoP proof ath does not match the access token');
    }
    if (claims.nonce !== undefined && typeof claims.nonce !== 'string') throw invalid('the DPoP proof nonce is not a string');
    // §4.3 item 6: the signature verifies with the header's key.
    const input = Buffer.from(proof.slice(0, second));
    if (!(await signatureValid(key.alg, key.key, input, signature))) throw invalid('the DPoP proof signature is invalid');
    // §4.3 item 10, §8: the nonce the server provided; last, so a proof that fails otherwise says why.
    let staleNonce = false;
    if (this.rules.nonces !== undefined) {
      if (claims.nonce === undefined) throw new DpopError('use_dpop_nonce', 'a DPoP nonce is required (RFC 9449 section 8)');
      const fresh = this.rules.nonces.check(claims.nonce);
      if (fresh === undefined) throw new DpopError('use_dpop_nonce', 'the DPoP nonce is unknown or expired');
      staleNonce = fresh === 'previous';
    }
    // The first millisecond it is refused as too old: the iat check above accepts `now` up to and
    // including (iat + lifetime) s, so that millisecond itself must still find the jti remembered.
    return { jkt: key.jkt, jti, replayableUntil: Math.floor((iat + this.rules.lifetime) * 1000) + 1, staleNonce };
  }

  private ath(token: string): string {
    if (token !== this.lastToken) {
      this.lastAth = accessTokenHash(token);
      this.lastToken = token;
    }
    return this.lastAth;
  }

  /** §4.3 items 4, 5 and 7: the JOSE header, checked once per distinct header and remembered. */
  private proofKey(segment: string): ProofKey {
    const bytes = canonical(segment);
    const header = bytes === undefined ? undefined : jsonObject(bytes);
    if (header === undefined) throw invalid('the DPoP proof header is not a JSON object');
    // §4.3 item 4 (RFC 7515 §4.1.9: the media type may be written without application/, any case).
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined;
    if (typ !== 'dpop+jwt' && typ !== 'application/dpop+jwt') throw invalid('the DPoP proof typ is not dpop+jwt');
    // §4.3 item 5: a registered asymmetric algorithm this server accepts; never none or a MAC.
    const alg = header.alg;
    if (typeof alg !== 'string' || !this.algorithms.has(alg)) throw invalid(`the DPoP proof alg is not one of ${[...this.algorithms].join(', ')}`);
    // RFC 7515 §4.1.11: no extension is understood here, so none may be critical.
    if (header.crit !== undefined) throw invalid('the DPoP proof header has crit, which is not supported');
    const jwk = header.jwk;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalid('the DPoP proof header has no jwk');
    const members = jwk as Record<string, unknown>;
    // §4.3 item 7: the jwk is a public key.
    if (PRIVATE_MEMBERS.some((m) => m in members)) throw invalid('the DPoP proof jwk holds a private key');
    if (!keyFits(alg, members)) throw invalid(`the DPoP proof jwk is not a key for ${alg}`);
    const jkt = jwkThumbprint(members);
    if (jkt === undefined) throw invalid('the DPoP proof jwk lacks members of its key type');
    // RFC 7638 §3 hashes the members as written, and node:crypto reads them leniently (padding,
    // '+' and '/', any other character skipped, leading zero octets): each key would have endless
    // thumbprints. One encoding per key, as RFC 7518 §6.2.1.2-3 (a coordinate MUST be its full
    // size), §2 (a Base64urlUInt MUST use the fewest octets) and RFC 8037 §2 say.
    const material = keyMaterial(members);
    if (material === undefined) throw invalid('the DPoP proof jwk members are not the canonical base64url of the key');
    // A public exponent as long as the modulus makes each verification ~30 times dearer; real keys use 65537 (RFC 7518 §6.3.1.2: e is short).
    if (members.kty === 'RSA' && (material.e as Buffer).length > 4) throw invalid('the DPoP proof RSA key has an oversized public exponent');
    let key: KeyObject;
    try {
      // Only the public members of its type: anything else in the JWK has no say in the key.
      const { kty, crv, x, y, n, e } = members;
      const publicJwk = kty === 'RSA' ? { kty, n, e } : kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x };
      key = createPublicKey({ key: publicJwk as never, format: 'jwk' });
    } catch {
      throw invalid('the DPoP proof jwk is not a valid public key');
    }
    // RFC 7518 §3.3, §3.5: RSA keys of at least 2048 bits; past 8192, each verification would cost the server too much.
    const bits = members.kty === 'RSA' ? (key.asymmetricKeyDetails?.modulusLength ?? 0) : 0;
    if (members.kty === 'RSA' && (bits < 2048 || bits > 8192)) throw invalid('the DPoP proof RSA key is shorter than 2048 bits or longer than 8192');
    const known: ProofKey = { alg, key, jkt };
    if (this.keys.size >= KEY_CACHE) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(segment, known);
    return known;
  }
}

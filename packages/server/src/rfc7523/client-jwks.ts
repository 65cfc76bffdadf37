/**
 * A private_key_jwt client's public keys (RFC 7523 §2.2; OpenID Connect Core §9): registered
 * inline as a JWK Set, or by a `jwks_uri` the server fetches (and fetches again for a `kid` it
 * does not know yet, so a client can rotate its keys by publishing the new one first).
 */
import { isIP } from 'node:net';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, importJWK, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import type { ClientRecord } from '../store/types.js';
import { jwksFetch, type LookupFunction, MAX_JWKS_BYTES } from './jwks-fetch.js';

/** What jwtVerify takes as its key: a function choosing the key by the JWS header. */
export type KeyResolver = JWTVerifyGetKey;

/** Key types a client may register: asymmetric only (a shared key would be a secret stored in the clear). */
const KEY_TYPES = new Set(['RSA', 'EC', 'OKP']);
/** Members of a private or symmetric JWK (RFC 7518 §6): never registered. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Fetching a jwks_uri: how long one fetch may take, how long a fetched set is used, how soon an unknown kid may fetch again. */
const FETCH_TIMEOUT_MS = 5000;
const CACHE_MAX_AGE_MS = 10 * 60_000;
const COOLDOWN_MS = 30_000;
const CACHE_MAX = 1000;

/**
 * Checks a JWK Set given for registration and returns it as compact JSON: public RSA, EC or OKP
 * keys that jose can import, at least one; a reason otherwise (as an Error's message).
 */
export async function checkedJwks(text: string): Promise<string> {
  if (Buffer.byteLength(text) > MAX_JWKS_BYTES) throw new Error(`a JWK Set must be at most ${MAX_JWKS_BYTES} bytes`);
  let set: JSONWebKeySet;
  try {
    set = JSON.parse(text) as JSONWebKeySet;
  } catch {
    throw new Error('not JSON');
  }
  if (typeof set !== 'object' || set === null || !Array.isArray(set.keys) || set.keys.length === 0) {
    throw new Error('a JWK Set is a JSON object with a non-empty "keys" array (RFC 7517 §5)');
  }
  for (const [i, key] of set.keys.entries()) {
    if (typeof key !== 'object' || key === null || !KEY_TYPES.has(key.kty as string)) throw new Error(`key ${i}: kty must be RSA, EC or OKP`);
    if (PRIVATE_MEMBERS.some((m) => m in key)) throw new Error(`key ${i} holds private or symmetric key material: register public keys only`);
    try {
      await importJWK(key as JWK, (key.alg as string | undefined) ?? defaultAlg(key as JWK));
    } catch (err) {
      throw new Error(`key ${i} cannot be used: ${(err as Error).message}`);
    }
  }
  return JSON.stringify(set);
}

/** An algorithm to test-import a key with when it names none. */
function defaultAlg(key: JWK): string {
  if (key.kty === 'RSA') return 'RS256';
  if (key.kty === 'EC') return ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as Record<string, string>)[key.crv ?? ''] ?? 'ES256';
  return 'EdDSA';
}

/**
 * A jwks_uri must be https, or http on a loopback address (a client on the same machine, tests):
 * the keys it serves decide who may act as the client.
 */
export function checkedJwksUri(value: string): string {
  if (!URL.canParse(value)) throw new Error('not an absolute URL');
  const url = new URL(value);
  if (url.hash !== '') throw new Error('must not have a fragment');
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new Error('must be https (http only on a loopback address)');
  return url.href;
}

/**
 * A jwks_uri given by anyone (dynamic registration, RFC 7591): https to a host named by DNS, not an
 * IP address or localhost, so that a registrant cannot point the server's fetches at loopback or a
 * private network address by literal. A name that resolves to such an address is refused when the
 * keys are fetched (jwks-fetch.ts: checked as the connection resolves it).
 */
export function registeredJwksUri(value: string): string {
  const href = checkedJwksUri(value);
  const url = new URL(href);
  // `localhost.` is localhost too (a fully qualified name).
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (url.protocol !== 'https:' || isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost')) {
    throw new Error('must be https to a host name (not an IP address or localhost)');
  }
  return href;
}

/** Key resolvers by what they were made from, so keys are imported (and a jwks_uri fetched) once, not per request. */
export class ClientKeys {
  private readonly inline = new Map<string, KeyResolver>();
  private readonly remote = new Map<string, KeyResolver>();

  /** `lookup` resolves a jwks_uri's host name when it is fetched: the server passes dns.lookup. */
  constructor(private readonly lookup: LookupFunction) {}

  /** The client's keys; undefined when it registered none. */
  resolver(client: Pick<ClientRecord, 'jwks' | 'jwksUri' | 'registrationTokenHash'>): KeyResolver | undefined {
    if (client.jwks !== null) return cached(this.inline, client.jwks, () => createLocalJWKSet(JSON.parse(client.jwks as string) as JSONWebKeySet));
    if (client.jwksUri !== null) {
      const uri = client.jwksUri;
      // A client that registered itself (it holds a registration access token, RFC 7592 §3)
      // named its jwks_uri itself: fetched from public addresses only. An operator's (the CLI's)
      // is trusted configuration and may name a loopback or private host.
      const publicOnly = client.registrationTokenHash !== null;
      return cached(this.remote, `${publicOnly ? 'public' : 'any'} ${uri}`, () =>
        createRemoteJWKSet(new URL(uri), {
          timeoutDuration: FETCH_TIMEOUT_MS, cacheMaxAge: CACHE_MAX_AGE_MS, cooldownDuration: COOLDOWN_MS, [customFetch]: jwksFetch(this.lookup, publicOnly),
        }));
    }
    return undefined;
  }
}

function cached(map: Map<string, KeyResolver>, key: string, make: () => KeyResolver): KeyResolver {
  let found = map.get(key);
  if (!found) {
    // A bound, not an LRU: clients are few.
    if (map.size >= CACHE_MAX) map.clear();
    found = make();
    map.set(key, found);
  }
  return found;
}

/**
 * Signing a request (RFC 5849 §3.1): the protocol parameters, the signature over the request as
 * it will be sent, and the parameters' placement (§3.5): the Authorization header, a form body,
 * or the query.
 */
import { epochSeconds } from '../encoding.js';
import { ConfigurationError } from '../errors.js';
import { pairsOf, percentEncode, signatureBaseString } from './base-string.js';
import { type SignatureMethod, type SigningKeys, sign } from './signature-methods.js';

/** Where the protocol parameters go (§3.5): 'header' (§3.5.1, preferred), 'body' (§3.5.2) or 'query' (§3.5.3). */
export type ParameterPlacement = 'header' | 'body' | 'query';

export interface SigningCredentials extends SigningKeys {
  /** oauth_consumer_key: the client credentials' identifier. */
  clientKey: string;
  /** oauth_token: the temporary or token credentials' identifier; without one, it is omitted (§3.1). */
  token?: string | undefined;
  signatureMethod: SignatureMethod;
}

export interface SigningOptions {
  /** Default 'header'. */
  placement?: ParameterPlacement | undefined;
  /** The Authorization header's `realm` (§3.5.1 item 4); it is not signed. */
  realm?: string | undefined;
  /** Send `oauth_version=1.0` (OPTIONAL, §3.1); default true. */
  includeVersion?: boolean | undefined;
  /** The step's own protocol parameters: oauth_callback (§2.1), oauth_verifier (§2.3). */
  parameters?: Record<string, string> | undefined;
  /** For test vectors only: a fixed nonce and timestamp instead of fresh ones (§3.3). */
  nonce?: string | undefined;
  timestamp?: number | undefined;
}

const FORM = 'application/x-www-form-urlencoded';

/**
 * The request, signed: a new Request with the protocol parameters in the header, the query or the
 * form body. The signature covers the method, the URL (§3.4.1.2) and the query, form body
 * (§3.4.1.3.1: only an application/x-www-form-urlencoded one) and protocol parameters.
 * Transport security (PLAINTEXT and every credentials request need TLS) is the caller's check.
 */
export async function signRequest(request: Request, credentials: SigningCredentials, options: SigningOptions = {}): Promise<Request> {
  const placement = options.placement ?? 'header';
  const url = new URL(request.url);
  const isForm = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() === FORM;
  const formText = isForm && request.body !== null ? await request.clone().text() : undefined;
  const form = pairsOf(new URLSearchParams(formText));
  // §3.1 item 2, §3.5: each protocol parameter once, and oauth_ parameters in one place only.
  for (const [name] of [...pairsOf(url.searchParams), ...form]) {
    if (name.startsWith('oauth_')) throw new ConfigurationError(`the request already has an oauth_ parameter (${name}); the signer adds them all, in one place (RFC 5849 §3.5)`);
  }
  if (placement === 'body' && !canCarryForm(request, isForm)) {
    throw new ConfigurationError(`placement 'body' needs a request that may have an ${FORM} body (RFC 5849 §3.5.2): not ${request.method}, and no other content type`);
  }

  const protocol: Record<string, string> = {
    oauth_consumer_key: credentials.clientKey,
    ...(credentials.token === undefined ? {} : { oauth_token: credentials.token }),
    oauth_signature_method: credentials.signatureMethod,
    oauth_timestamp: String(options.timestamp ?? epochSeconds()),
    oauth_nonce: options.nonce ?? generateNonce(),
    ...(options.includeVersion === false ? {} : { oauth_version: '1.0' }),
    ...options.parameters,
  };
  const baseString = signatureBaseString(request.method, url, [...form, ...Object.entries(protocol)]);
  protocol.oauth_signature = await sign(credentials.signatureMethod, baseString, credentials);
  const pairs = Object.entries(protocol).map(([name, value]) => [percentEncode(name), percentEncode(value)] as const);
  const encoded = pairs.map(([name, value]) => `${name}=${value}`).join('&');

  const headers = new Headers(request.headers);
  if (placement === 'header') {
    headers.set('authorization', `OAuth ${realmParameter(options.realm)}${pairs.map(([name, value]) => `${name}="${value}"`).join(', ')}`);
    return new Request(request, { headers });
  }
  if (placement === 'query') {
    // §3.5.3: appended after the request's own query parameters.
    url.search = url.search === '' ? encoded : `${url.search.slice(1)}&${encoded}`;
    return rebuild(request, url, headers, formText ?? (request.body === null ? null : await request.arrayBuffer()));
  }
  // §3.5.2: appended after the body's own parameters; the content type stays (or becomes) form.
  if (!isForm) headers.set('content-type', FORM);
  return rebuild(request, url, headers, formText ? `${formText}&${encoded}` : encoded);
}

/** §3.5.2: a single-part application/x-www-form-urlencoded body, so no GET or HEAD and no other body. */
function canCarryForm(request: Request, isForm: boolean): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return false;
  return isForm || (request.body === null && !request.headers.has('content-type'));
}

function realmParameter(realm: string | undefined): string {
  if (realm === undefined) return '';
  // RFC 2617 §1.2: a quoted-string; refused rather than escaped, as servers parse these loosely.
  if (/["\\\r\n]/.test(realm)) throw new ConfigurationError('the realm may not contain ", \\ or line breaks');
  return `realm="${realm}", `;
}

function rebuild(request: Request, url: URL, headers: Headers, body: BodyInit | null): Request {
  const { method, redirect, signal, credentials, cache, mode, referrer, referrerPolicy, integrity, keepalive } = request;
  return new Request(url, { method, headers, body, redirect, signal, credentials, cache, mode, referrer, referrerPolicy, integrity, keepalive });
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * §3.3: a random string unique per timestamp; 24 alphanumerics from crypto.getRandomValues
 * (about 143 bits). Alphanumeric and 20–30 long because servers that whitelist the nonce's
 * characters and length (oauthlib's default validator, for one) accept nothing else.
 */
function generateNonce(length = 24): string {
  let nonce = '';
  while (nonce.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length))) {
      // 248 = 4 × 62: larger bytes are skipped, so every character is equally likely.
      if (byte < 248 && nonce.length < length) nonce += ALPHANUMERIC[byte % 62];
    }
  }
  return nonce;
}

/**
 * OAuth1Session: OAuth 1.0a (RFC 5849) for the APIs that still require it, shaped like
 * requests-oauthlib's OAuth1Session. Temporary credentials (§2.1), the resource owner's
 * authorization (§2.2), token credentials (§2.3), then signed requests (§3).
 *
 * The secrets (client secret, RSA key, token and its secret) live in private fields, so that
 * JSON.stringify, util.inspect and String() show none of them; error messages name none either.
 */
import { ConfigurationError, InvalidResponseError, NetworkError, safeUrl } from '../errors.js';
import { checkUrl, type HttpOptions, makeRequest } from '../http.js';
import { checkTimeout, DEFAULT_TIMEOUT, withTimeout } from '../session/refresh-retry.js';
import {
  buildResourceOwnerAuthorizationUrl,
  type OAuth1AuthorizationResponse,
  type OAuth1Token,
  parseAuthorizationCallback,
  processCredentialsResponse,
} from './credentials.js';
import { type ParameterPlacement, signRequest } from './sign-request.js';
import { importRsaKey, SIGNATURE_METHODS, type SignatureMethod } from './signature-methods.js';

export interface OAuth1SessionOptions extends Omit<HttpOptions, 'signal'> {
  /** The client credentials' identifier (oauth_consumer_key). */
  clientKey: string;
  /** The client credentials' shared secret: needed by HMAC-SHA1, HMAC-SHA256 and PLAINTEXT. */
  clientSecret?: string;
  /** 'HMAC-SHA1' (default), 'HMAC-SHA256', 'RSA-SHA1' (with rsaKey) or 'PLAINTEXT' (§3.4). */
  signatureMethod?: SignatureMethod;
  /** RSA-SHA1's private key: a CryptoKey (RSASSA-PKCS1-v1_5, SHA-1, 'sign') or a PEM "PRIVATE KEY" (PKCS #8). */
  rsaKey?: CryptoKey | string;
  /** Where the user comes back after authorizing (oauth_callback, §2.1); default 'oob' (out of band: the user copies the verifier). */
  callbackUri?: string;
  /** Where the protocol parameters go: 'header' (default), 'query' or 'body' (§3.5). */
  placement?: ParameterPlacement;
  /** The Authorization header's realm, if the server wants one. */
  realm?: string;
  /** Send oauth_version=1.0 (OPTIONAL, §3.1); default true. */
  includeVersion?: boolean;
  /** Credentials obtained earlier: token credentials, or the temporary ones when another process started the flow. */
  token?: string;
  tokenSecret?: string;
  /**
   * Milliseconds each request to the credentials endpoints (fetchRequestToken, fetchAccessToken)
   * may take, its answer's body included (default 30,000), as OAuth2Session's `timeout` bounds
   * requests to the authorization server. A request without a whole answer by then rejects with a
   * NetworkError whose message says it timed out and after how many ms (`notSent` is false: the
   * provider may have processed it). Not `fetch`, whose resources answer as they do, bounded by
   * its own `init.signal`. A positive number of ms up to 2,147,483,647, else a ConfigurationError.
   */
  timeout?: number;
}

/** A call's own AbortSignal: it rejects with the signal's reason, and its request is aborted. */
export interface OAuth1CallOptions {
  signal?: AbortSignal | undefined;
}

/** The options without the secrets; the secrets are kept apart. */
type Settings = Omit<OAuth1SessionOptions, 'clientSecret' | 'rsaKey' | 'token' | 'tokenSecret'> & { signatureMethod: SignatureMethod };

/** Fetch's own limit (Fetch §4.4). */
const MAX_REDIRECTS = 20;

export class OAuth1Session {
  /** The client credentials' identifier: not a secret, it is sent with every request. */
  readonly clientKey: string;
  readonly #settings: Settings;
  readonly #clientSecret: string | undefined;
  readonly #rsaKey: CryptoKey | string | undefined;
  #importedRsaKey: Promise<CryptoKey> | undefined;
  /** The temporary credentials during the flow, the token credentials after it (requests-oauthlib's resource owner key and secret). */
  #token: OAuth1Token | undefined;
  #verifier: string | undefined;

  constructor(options: OAuth1SessionOptions) {
    const { clientSecret, rsaKey, token, tokenSecret, ...settings } = options;
    const signatureMethod = options.signatureMethod ?? 'HMAC-SHA1';
    if (typeof options.clientKey !== 'string' || options.clientKey === '') throw new ConfigurationError('OAuth1Session needs a clientKey');
    if (!SIGNATURE_METHODS.includes(signatureMethod)) throw new ConfigurationError(`unknown signature method (use one of ${SIGNATURE_METHODS.join(', ')})`);
    if (signatureMethod === 'RSA-SHA1' && rsaKey === undefined) throw new ConfigurationError('RSA-SHA1 needs an rsaKey');
    if (signatureMethod !== 'RSA-SHA1' && clientSecret === undefined) throw new ConfigurationError(`${signatureMethod} needs a clientSecret`);
    if (tokenSecret !== undefined && token === undefined) throw new ConfigurationError('a tokenSecret needs its token');
    checkTimeout(options.timeout);
    if (options.placement !== undefined && !['header', 'query', 'body'].includes(options.placement)) throw new ConfigurationError("placement is 'header', 'query' or 'body'");
    // §2.1: oauth_callback is an absolute URI, or "oob" (case sensitive).
    if (options.callbackUri !== undefined && options.callbackUri !== 'oob' && !isAbsoluteUrl(options.callbackUri)) throw new ConfigurationError("the callbackUri is not an absolute URI (or 'oob')");
    this.clientKey = options.clientKey;
    this.#settings = { ...settings, signatureMethod };
    this.#clientSecret = clientSecret;
    this.#rsaKey = rsaKey;
    if (token !== undefined) this.#token = { oauth_token: token, oauth_token_secret: tokenSecret ?? '' };
  }

  /**
   * §2.1: temporary credentials, from a signed POST with oauth_callback; the server must answer
   * oauth_callback_confirmed=true. They are kept for authorizationUrl() and fetchAccessToken().
   * Bounded by `timeout`; `signal` aborts it.
   */
  async fetchRequestToken(url: string | URL, options: OAuth1CallOptions = {}): Promise<OAuth1Token> {
    // §2.1: signed with the client credentials only (no oauth_token, an empty token secret).
    const oauth_callback = this.#settings.callbackUri ?? 'oob';
    this.#token = await this.#bounded(url, options.signal, async (signal) =>
      processCredentialsResponse(await this.#send(this.#credentialsRequest(url, signal), undefined, { oauth_callback }), 'temporary'),
    );
    this.#verifier = undefined;
    return { ...this.#token };
  }

  /** §2.2: where to send the user to authorize the temporary credentials (extra query parameters as the server documents). */
  authorizationUrl(url: string | URL, parameters: Record<string, string> = {}): string {
    if (this.#token === undefined) throw new ConfigurationError('no temporary credentials: call fetchRequestToken() first');
    return buildResourceOwnerAuthorizationUrl(url, this.#token.oauth_token, parameters).href;
  }

  /**
   * §2.2: reads oauth_token and oauth_verifier from the callback URL (checking the token is this
   * session's temporary one) and keeps the verifier for fetchAccessToken().
   */
  parseAuthorizationResponse(callbackUrl: string | URL): OAuth1AuthorizationResponse {
    const response = parseAuthorizationCallback(callbackUrl, this.#token?.oauth_token);
    this.#verifier = response.oauth_verifier;
    return response;
  }

  /**
   * §2.3: token credentials, from a POST signed with the temporary credentials and carrying
   * oauth_verifier (the one parseAuthorizationResponse() read, or the one the user typed in for
   * 'oob'). They replace the temporary credentials, which the server has now revoked. Bounded by
   * `timeout`; `signal` aborts it (the temporary credentials stay).
   */
  async fetchAccessToken(url: string | URL, verifier: string | undefined = this.#verifier, options: OAuth1CallOptions = {}): Promise<OAuth1Token> {
    const temporary = this.#token;
    if (temporary === undefined) throw new ConfigurationError('no temporary credentials: call fetchRequestToken(), or pass token and tokenSecret');
    if (verifier === undefined || verifier === '') throw new ConfigurationError('no verifier: call parseAuthorizationResponse(callbackUrl) or pass the verifier');
    this.#token = await this.#bounded(url, options.signal, async (signal) =>
      processCredentialsResponse(await this.#send(this.#credentialsRequest(url, signal), temporary, { oauth_verifier: verifier }), 'token'),
    );
    this.#verifier = undefined;
    return { ...this.#token };
  }

  /**
   * fetch(), signed (§3): with the token credentials, or with the client credentials alone when
   * the session has none. The URL must be https (loopback excepted, or allowInsecureRequests):
   * PLAINTEXT sends the secrets themselves (§3.4.4), and no method protects the response.
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = makeRequest(input, init);
    checkUrl(request.url, this.#settings);
    if (request.redirect !== 'follow') return this.#send(request, this.#token);
    // Redirects are followed here, not by fetch: it would send the signed parameters (a body's,
    // on 307/308) to wherever Location points, with a signature made for the old URL. Within the
    // origin each hop is signed afresh; to another origin the request goes unsigned, as fetch
    // drops an Authorization header (OAuth2Session.fetch's tokens) on a cross-origin redirect.
    const body = request.body === null ? undefined : await request.arrayBuffer();
    let { method, url } = request;
    const headers = new Headers(request.headers);
    for (let hops = 0; hops <= MAX_REDIRECTS; hops++) {
      const hop: RequestInit = { method, headers, body: body === undefined || method === 'GET' || method === 'HEAD' ? null : body, signal: request.signal };
      const response = await this.#send(new Request(url, { ...hop, redirect: 'manual' }), this.#token);
      const location = response.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(response.status) || location === null) return response;
      await response.body?.cancel();
      // Fetch §4.4 HTTP-redirect fetch: 303, and 301/302 after a POST, become a GET without a body.
      if ((response.status === 303 && method !== 'HEAD') || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        for (const name of ['content-encoding', 'content-language', 'content-location', 'content-type']) headers.delete(name);
      }
      const next = new URL(location, url);
      if (next.origin !== new URL(url).origin) {
        return this.#transmit(new Request(next, { ...hop, method, headers, body: method === 'GET' || method === 'HEAD' ? null : hop.body, redirect: 'follow' }), next.href);
      }
      url = checkUrl(next, this.#settings).href;
    }
    throw new InvalidResponseError(`more than ${MAX_REDIRECTS} redirects from ${safeUrl(request.url)}`);
  }

  /** The current credentials (temporary during the flow, token credentials after it), to store. */
  getToken(): OAuth1Token | undefined {
    return this.#token === undefined ? undefined : { ...this.#token };
  }

  /** §2.1, §2.3: POST (unless the server says otherwise), not following redirects, the session's extra headers on. */
  #credentialsRequest(url: string | URL, signal: AbortSignal): Request {
    return new Request(checkUrl(url, this.#settings), { method: 'POST', headers: this.#settings.headers, redirect: 'manual', signal });
  }

  /**
   * `work` with a signal that aborts after `timeout` ms, or when the caller's `signal` does (the
   * client's one timer, withTimeout): no whole answer by then is a NetworkError naming `url`
   * without its query and saying it timed out; the caller's abort rejects with its reason.
   */
  #bounded<T>(url: string | URL, signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    // An aborted signal: its reason, before anything is signed or sent.
    if (signal?.aborted) return Promise.reject(signal.reason);
    return withTimeout(work, this.#settings.timeout ?? DEFAULT_TIMEOUT, { url: String(url), signal });
  }

  /** Signs and sends. A NetworkError names the URL as given: the signed one may carry the token and signature in its query. */
  async #send(request: Request, token: OAuth1Token | undefined, parameters?: Record<string, string>): Promise<Response> {
    const shown = request.url;
    const { signatureMethod, placement, realm, includeVersion } = this.#settings;
    const signed = await signRequest(
      request,
      { clientKey: this.clientKey, clientSecret: this.#clientSecret, token: token?.oauth_token, tokenSecret: token?.oauth_token_secret, signatureMethod, rsaKey: await this.#rsa() },
      { placement, realm, includeVersion, parameters },
    );
    return this.#transmit(signed, shown);
  }

  /**
   * Sends a request as it is (signed, or the unsigned follow of a redirect to another origin): a
   * failure to get any response is a NetworkError naming `shown` without its query; the caller's
   * abort is its signal's reason.
   */
  async #transmit(request: Request, shown: string): Promise<Response> {
    try {
      return await (this.#settings.fetch ?? ((r: Request) => fetch(r)))(request);
    } catch (err) {
      if (request.signal.aborted) throw request.signal.reason;
      throw new NetworkError(shown, err);
    }
  }

  #rsa(): Promise<CryptoKey | undefined> {
    if (this.#rsaKey === undefined || this.#settings.signatureMethod !== 'RSA-SHA1') return Promise.resolve(undefined);
    this.#importedRsaKey ??= importRsaKey(this.#rsaKey);
    return this.#importedRsaKey;
  }
}

function isAbsoluteUrl(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

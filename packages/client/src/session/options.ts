/** The session's options, each with its default and a one-line doc. */
import type { HttpOptions } from '../http.js';
import type { ClientAuth } from '../rfc6749/client-auth.js';
import type { TokenSet } from '../rfc6749/token.js';
import type { DiscoveryAlgorithm } from '../rfc8414/discovery.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';
import type { TokenLock } from '../lock/token-lock.js';
import type { TokenStore } from '../store/token-store.js';
import type { RetryPolicy } from './refresh-retry.js';

/** Why onTokenUpdated is called. */
export interface TokenUpdate {
  /**
   * `issued`: a grant (code, device, client credentials, password) or setToken(); `refreshed`: a
   * refresh by this session; `revoked`: logout(), or the server refused the refresh token (the
   * token is undefined then), or a refresh whose outcome is unknown (the token keeps its access
   * token, without the refresh token).
   */
  reason: 'issued' | 'refreshed' | 'revoked';
  /**
   * The resource (RFC 8707) whose access token was issued or refreshed (it is in the set's
   * `resource_tokens`); undefined: the set's own token, or the whole set (revoked).
   */
  resource: string | undefined;
}

/** onTokenUpdated: the token set the session now holds (undefined: none), and why. */
export type TokenUpdatedListener = (token: TokenSet | undefined, update: TokenUpdate) => void | Promise<void>;

export interface SessionOptions extends Omit<HttpOptions, 'signal' | 'dpop'> {
  /** The client's identifier at the authorization server. */
  clientId: string;
  /** How the client authenticates: clientSecretBasic(secret), clientSecretPost(secret), privateKeyJwt(key) or none() (default). */
  clientAuth?: ClientAuth;
  /** The issuer: its metadata is fetched once, on first need, and cached. Give this or `server`. */
  issuer?: string;
  /** 'oauth2' (default): RFC 8414 `/.well-known/oauth-authorization-server`; 'oidc': OpenID Connect Discovery. */
  discovery?: DiscoveryAlgorithm;
  /** Explicit metadata (endpoints), instead of discovery; also lets many sessions share one discover(). */
  server?: AuthorizationServer;
  /** The redirect URI registered for the client (authorization code flow). */
  redirectUri?: string;
  /** Default scope for authorization requests and grants. */
  scope?: string;
  /** Where tokens live (default: a MemoryTokenStore of this session's own). */
  store?: TokenStore;
  /** The key under which this session's token is stored (default: the client id). */
  storeKey?: string;
  /**
   * The lock held around read → refresh → write, for one refresh at a time among everyone sharing
   * the store (default: the store's own `lock`, e.g. FileTokenStore's file lock; else one within
   * this session).
   */
  lock?: TokenLock;
  /**
   * Refresh this many seconds before the access token expires, at most (default 30); never more
   * than a quarter of the token's lifetime. Compared on the server's clock (its Date header).
   */
  refreshLeeway?: number;
  /**
   * Milliseconds each request to the authorization server may take, its answer's body included
   * (default 30,000): discovery, every token request (fetchToken's code exchange and the ID
   * Token's JWK Set, clientCredentials, password, and renewals unless `refreshTimeout` is given),
   * revocation (revoke, and each revocation of logout: they run at once, so logout takes one
   * timeout at most), introspection, userinfo, the device authorization request, and each poll
   * of pollDeviceToken on its own (the polling as a whole ends when the device code expires: the
   * server says `expired_token`, or its `expires_in` has passed on the server's clock, which
   * rejects with the same error; or on the caller's signal). A request without a whole answer by
   * then rejects with a NetworkError whose message says it timed out and after how many ms
   * (`notSent` is false: the server may have processed it). A positive number of ms up to
   * 2,147,483,647 (setTimeout's limit), else a ConfigurationError. fetchToken, password,
   * clientCredentials, deviceAuthorization and pollDeviceToken also take a per-call `signal`,
   * combined with it: an abort rejects with the signal's reason.
   */
  timeout?: number;
  /**
   * Milliseconds a renewal's token request (a refresh, or a client-credentials renewal) may take,
   * its answer's body included, and the refreshed ID Token's JWK Set fetch likewise (default:
   * `timeout`, itself 30,000 by default). A refresh that times out may have been processed: it is
   * handled like any other whose outcome is unknown (RefreshOutcomeUnknownError, whose cause is
   * the NetworkError that says it timed out; the refresh token is not sent again), and the lock
   * is released. Checked as `timeout` is: a ConfigurationError at construction otherwise.
   */
  refreshTimeout?: number;
  /** Retries of a token request that did not get through (a refresh only when it certainly was not processed). */
  retry?: RetryPolicy;
  /** Called (and awaited) after every change of the stored token set: a grant, a refresh, a logout. */
  onTokenUpdated?: TokenUpdatedListener;
  /**
   * DPoP (RFC 9449): `true` makes an ES256 key pair whose private key Web Crypto will not export
   * (it lives as long as the session), or give your own pair (e.g. kept in IndexedDB, so tokens
   * stay usable across page loads). Every request to the server and every `fetch` carries a proof.
   */
  dpop?: boolean | CryptoKeyPair;
}

export const DEFAULT_REFRESH_LEEWAY = 30;

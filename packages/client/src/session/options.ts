/** The session's options, each with its default and a one-line doc. */
import type { HttpOptions } from '../http.js';
import type { ClientAuth } from '../rfc6749/client-auth.js';
import type { TokenSet } from '../rfc6749/token.js';
import type { DiscoveryAlgorithm } from '../rfc8414/discovery.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';
import type { TokenStore } from '../store/token-store.js';

export interface SessionOptions extends Omit<HttpOptions, 'signal'> {
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
  /** Refresh this many seconds before the access token expires, for clock skew and latency (default 30). */
  refreshLeeway?: number;
  /** Called (and awaited) after every new token set has been stored: after a grant or a refresh. */
  onTokenUpdated?: (token: TokenSet) => void | Promise<void>;
}

export const DEFAULT_REFRESH_LEEWAY = 30;

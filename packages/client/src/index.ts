/**
 * @tessera/client: an OAuth 2 client for the whole life of a token, and an OAuth 1.0a one for the
 * APIs that still need it. fetch and Web Crypto only (plus jose for private_key_jwt): runs
 * unchanged in Node 20+, browsers, Deno, Bun and workers.
 * The file store and its lock, which need node:fs, are the separate entry
 * `@tessera/client/file-store`; the Redis lock and store are `@tessera/client/redis`.
 */

// The session: state, storage, refresh, authenticated fetch.
export { OAuth2Session } from './session/session.js';
export type { AuthorizationUrlParams, PendingAuthorization } from './session/session.js';
export type { SessionOptions, TokenUpdate, TokenUpdatedListener } from './session/options.js';
export type { ResourceOptions, SignalOptions } from './session/token-session.js';
export type { RetryPolicy } from './session/refresh-retry.js';
export { ServerClock } from './session/server-clock.js';
export { MemoryTokenStore } from './store/token-store.js';
export type { TokenStore } from './store/token-store.js';
export { IndexedDbTokenStore } from './store/indexeddb-store.js';
export type { IndexedDbTokenStoreOptions } from './store/indexeddb-store.js';

// One refresh at a time among processes, tabs and machines sharing a store.
export { LocalLock } from './lock/token-lock.js';
export type { TokenLock } from './lock/token-lock.js';
export { WebLocksTokenLock } from './lock/web-locks.js';
export type { WebLocksTokenLockOptions } from './lock/web-locks.js';

// Errors, each with a stable `code`.
export {
  ClientError,
  OAuthResponseError,
  AuthorizationResponseError,
  NetworkError,
  InvalidResponseError,
  StateMismatchError,
  IssuerMismatchError,
  MissingTokenError,
  ConfigurationError,
  IdTokenError,
  ReauthenticationRequiredError,
  RefreshOutcomeUnknownError,
  TokenLockError,
  TokenStoreError,
  isOAuthError,
} from './errors.js';
export type { OAuthErrorFields, OAuthErrorName } from './errors.js';
export type { HttpOptions } from './http.js';

// Client authentication (RFC 6749 §2.3, RFC 7523).
export { clientSecretBasic, clientSecretPost, none } from './rfc6749/client-auth.js';
export type { Client, ClientAuth } from './rfc6749/client-auth.js';
export { privateKeyJwt } from './rfc7523/private-key-jwt.js';
export type { PrivateKeyJwtOptions } from './rfc7523/private-key-jwt.js';

// Discovery (RFC 8414, OpenID Connect Discovery).
export { discover, discoveryRequest, processDiscoveryResponse, discoveryUrl } from './rfc8414/discovery.js';
export type { DiscoveryAlgorithm } from './rfc8414/discovery.js';
export type { AuthorizationServer } from './rfc8414/metadata.js';

// Request/process pairs, one per protocol step.
export { buildAuthorizationUrl, validateAuthorizationResponse } from './rfc6749/authorization.js';
export type { AuthorizationParameters, AuthorizationResponse } from './rfc6749/authorization.js';
export { generateCodeVerifier, calculateCodeChallenge, generateState } from './rfc7636/pkce.js';
export { tokenRequest, processTokenResponse } from './rfc6749/token.js';
export type { AccessToken, TokenSet } from './rfc6749/token.js';
export { authorizationCodeGrantRequest, refreshTokenGrantRequest, clientCredentialsGrantRequest, passwordGrantRequest } from './rfc6749/grants.js';
export type { TokenRequestParameters } from './rfc6749/grants.js';
export { revocationRequest, processRevocationResponse } from './rfc7009/revocation.js';
export type { TokenTypeHint } from './rfc7009/revocation.js';
export { introspectionRequest, processIntrospectionResponse } from './rfc7662/introspection.js';
export type { IntrospectionResponse } from './rfc7662/introspection.js';
export {
  deviceAuthorizationRequest,
  processDeviceAuthorizationResponse,
  deviceCodeGrantRequest,
  processDeviceCodeResponse,
  DEVICE_CODE_GRANT,
} from './rfc8628/device.js';
export type { DeviceAuthorization, DevicePollResult } from './rfc8628/device.js';
export { bearerChallenge } from './rfc6750/challenge.js';

// DPoP (RFC 9449): the key proofs are made with, for the request functions' `dpop` option (sessions take `dpop: true`).
export { DPoPKey } from './rfc9449/dpop.js';

// OAuth 1.0a (RFC 5849), for the APIs that still require it: the session, and the signer below it.
export { OAuth1Session } from './rfc5849/session.js';
export type { OAuth1CallOptions, OAuth1SessionOptions } from './rfc5849/session.js';
export type { OAuth1Token, OAuth1AuthorizationResponse } from './rfc5849/credentials.js';
export { signRequest } from './rfc5849/sign-request.js';
export type { ParameterPlacement, SigningCredentials, SigningOptions } from './rfc5849/sign-request.js';
export { signatureBaseString } from './rfc5849/base-string.js';
export type { SignatureMethod } from './rfc5849/signature-methods.js';

// OpenID Connect relying party: ID Token validation, UserInfo, RP-initiated logout.
export { validateIdToken, fetchJwks } from './oidc/id-token.js';
export type { IdTokenChecks, IdTokenClaims } from './oidc/id-token.js';
export { userinfoRequest, processUserInfoResponse } from './oidc/userinfo.js';
export type { UserInfo } from './oidc/userinfo.js';
export { buildEndSessionUrl } from './oidc/end-session.js';
export type { EndSessionParameters } from './oidc/end-session.js';

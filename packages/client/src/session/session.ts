/**
 * OAuth2Session: one client, one user (or the client itself), one token through its whole life.
 * This half obtains the token, by each grant; TokenSession keeps, presents, refreshes and
 * revokes it. Every protocol step is a request/process pair from the rfc folders.
 */
import { ConfigurationError, IdTokenError } from '../errors.js';
import { validateIdToken } from '../oidc/id-token.js';
import { buildAuthorizationUrl, validateAuthorizationResponse } from '../rfc6749/authorization.js';
import { authorizationCodeGrantRequest, clientCredentialsGrantRequest, passwordGrantRequest } from '../rfc6749/grants.js';
import { processTokenResponse, type TokenSet } from '../rfc6749/token.js';
import { calculateCodeChallenge, generateCodeVerifier, generateState } from '../rfc7636/pkce.js';
import { type DeviceAuthorization, deviceAuthorizationRequest, processDeviceAuthorizationResponse } from '../rfc8628/device.js';
import { pollDeviceToken } from './device-poll.js';
import { type Params, type SignalOptions, TokenSession } from './token-session.js';

/** What must be kept between authorizationUrl() and fetchToken() (in a browser: sessionStorage). */
export interface PendingAuthorization {
  state: string;
  codeVerifier: string;
  redirectUri: string;
  /** OpenID Connect Core §3.1.2.1: sent when the scope has `openid`; the ID Token must echo it. */
  nonce?: string;
}

/**
 * What authorizationUrl() may add or override: `scope`, `state`, `nonce`, `resource` (RFC 8707
 * §2.1, one or several), and any other parameter (prompt, login_hint, …).
 */
export type AuthorizationUrlParams = Params & {
  state?: string | undefined;
  nonce?: string | undefined;
  resource?: string | readonly string[] | undefined;
} & Record<string, string | readonly string[] | undefined>;

export class OAuth2Session extends TokenSession {
  #pending: PendingAuthorization | undefined;

  /** RFC 6749 §4.1.1 with RFC 7636: the URL to send the user to, with fresh state and PKCE (S256). */
  async authorizationUrl(params: AuthorizationUrlParams = {}): Promise<PendingAuthorization & { url: string }> {
    const redirectUri = this.options.redirectUri;
    if (redirectUri === undefined) throw new ConfigurationError('the authorization code flow needs a redirectUri');
    const state = params.state ?? generateState();
    const codeVerifier = generateCodeVerifier();
    // An OpenID Connect request gets a nonce (Core §3.1.2.1), checked in the ID Token by fetchToken().
    const openid = (params.scope ?? this.options.scope ?? '').split(' ').includes('openid');
    const nonce = openid ? (params.nonce ?? generateState()) : params.nonce;
    const url = buildAuthorizationUrl(await this.metadata(), this.client, {
      scope: this.options.scope,
      // RFC 9449 §10: the code is bound to the session's DPoP key, so only its holder redeems it.
      dpop_jkt: this.dpop ? await this.dpop.thumbprint() : undefined,
      ...params,
      redirect_uri: redirectUri,
      state,
      nonce,
      code_challenge: await calculateCodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    this.#pending = nonce === undefined ? { state, codeVerifier, redirectUri } : { state, codeVerifier, redirectUri, nonce };
    return { url: url.href, ...this.#pending };
  }

  /**
   * Validates the callback URL (iss, then state, then error: RFC 9207, RFC 6749 §10.12,
   * §4.1.2.1) and exchanges its code (§4.1.3). `pending` defaults to this session's last
   * authorizationUrl(); pass it when another process or request started the flow. `signal` aborts
   * the exchange (and the ID Token's JWK Set fetch).
   */
  async fetchToken(callbackUrl: string | URL, pending: PendingAuthorization | undefined = this.#pending, options: SignalOptions = {}): Promise<TokenSet> {
    if (pending === undefined) throw new ConfigurationError('no authorization request pending: pass what authorizationUrl() returned');
    const { signal } = options;
    const as = await this.metadataFor(signal);
    const callback = validateAuthorizationResponse(as, callbackUrl, pending.state);
    // The answer, its body included, within `timeout`.
    const received = await this.bounded(
      as.token_endpoint,
      async (http) =>
        processTokenResponse(await authorizationCodeGrantRequest(as, this.client, this.auth, callback, pending.redirectUri, pending.codeVerifier, http), this.clock),
      { signal },
    ).catch((err) => {
      throw this.redacted(err, [callback.code, pending.codeVerifier], signal);
    });
    if (pending.nonce !== undefined) {
      // Core §3.1.3.3: an OpenID Connect token response has an id_token; §3.1.3.7: it is validated before use.
      const idToken = received.id_token;
      if (idToken === undefined) throw new IdTokenError('the token response of an openid request has no id_token', 'id_token');
      await this.bounded(as.jwks_uri, (http) => validateIdToken(as, this.client, idToken, { nonce: pending.nonce, accessToken: received.access_token }, http), { signal });
    }
    const token = await this.keeper.save(received, 'issued');
    if (this.#pending === pending) this.#pending = undefined;
    return token;
  }

  /**
   * RFC 6749 §4.4: a token for the client itself; when it expires, the session gets another the
   * same way. `signal` aborts this first request only, not the renewals.
   */
  async clientCredentials(params: Params & SignalOptions = {}): Promise<TokenSet> {
    const scope = params.scope ?? this.options.scope;
    // RFC 8707 §2: the same grant, with `resource`, gives session.fetch(…, { resource }) its tokens.
    const obtain = async (resource?: string, signal?: AbortSignal) =>
      processTokenResponse(await clientCredentialsGrantRequest(await this.metadata(), this.client, this.auth, { scope, resource }, this.http(signal)), this.clock);
    // Renewals are bounded by refreshTimeout (withRetries); this first request by `timeout`.
    const as = await this.metadataFor(params.signal);
    const token = await this.keeper.save(await this.bounded(as.token_endpoint, (http) => obtain(undefined, http.signal), { signal: params.signal }), 'issued');
    this.reissue = obtain;
    return token;
  }

  /**
   * RFC 6749 §4.3, the resource owner password grant. Legacy: RFC 9700 §2.4 says it MUST NOT be
   * used (the client sees the user's password). For migrating old systems only.
   */
  async password(username: string, password: string, params: Params & SignalOptions = {}): Promise<TokenSet> {
    const as = await this.metadataFor(params.signal);
    const token = await this.bounded(
      as.token_endpoint,
      async (http) =>
        processTokenResponse(await passwordGrantRequest(as, this.client, this.auth, username, password, { scope: params.scope ?? this.options.scope }, http), this.clock),
      { signal: params.signal },
    ).catch((err) => {
      throw this.redacted(err, [password], params.signal);
    });
    return this.keeper.save(token, 'issued');
  }

  /**
   * RFC 8628 §3.1: device and user codes; show `user_code` and `verification_uri` to the user.
   * Their `expires_at` is on the server's clock (the session's, from Date headers).
   */
  async deviceAuthorization(params: Params & SignalOptions = {}): Promise<DeviceAuthorization> {
    const as = await this.metadataFor(params.signal);
    return this.bounded(
      as.device_authorization_endpoint,
      async (http) =>
        processDeviceAuthorizationResponse(await deviceAuthorizationRequest(as, this.client, this.auth, { scope: params.scope ?? this.options.scope }, http), this.clock),
      { signal: params.signal },
    );
  }

  /**
   * RFC 8628 §3.4–3.5: polls (honouring interval and slow_down) until approved, denied or expired:
   * the server's `expired_token`, or the device code's `expires_at` passing on the session's
   * server clock, which rejects with the same OAuthResponseError (`error: 'expired_token'`) without
   * asking the server again. Each poll is bounded by `timeout` on its own; `signal` ends the
   * polling, waits included.
   */
  async pollDeviceToken(device: DeviceAuthorization, options: SignalOptions = {}): Promise<TokenSet> {
    const token = await pollDeviceToken(await this.metadataFor(options.signal), this.client, this.auth, device, this.http(options.signal), this.clock, this.timeout).catch((err) => {
      throw this.redacted(err, [device.device_code], options.signal);
    });
    return this.keeper.save(token, 'issued');
  }
}

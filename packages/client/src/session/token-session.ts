/**
 * The token half of a session: where the token lives, how it is presented (session.fetch), kept
 * fresh (refresh ahead of expiry, single flight), inspected and revoked. OAuth2Session adds the
 * grants that obtain a token in the first place.
 */
import { decodeJwt } from 'jose';
import { ConfigurationError, IdTokenError, MissingTokenError, NetworkError, OAuthResponseError, ReauthenticationRequiredError, redactSecrets } from '../errors.js';
import { checkUrl, type HttpOptions, makeRequest } from '../http.js';
import { LocalLock } from '../lock/token-lock.js';
import { buildEndSessionUrl, type EndSessionParameters } from '../oidc/end-session.js';
import { validateIdToken } from '../oidc/id-token.js';
import { processUserInfoResponse, type UserInfo, userinfoRequest } from '../oidc/userinfo.js';
import { type Client, type ClientAuth, none } from '../rfc6749/client-auth.js';
import { refreshTokenGrantRequest } from '../rfc6749/grants.js';
import { type AccessToken, processTokenResponse, type TokenSet } from '../rfc6749/token.js';
import { processRevocationResponse, revocationRequest, type TokenTypeHint } from '../rfc7009/revocation.js';
import { type IntrospectionResponse, introspectionRequest, processIntrospectionResponse } from '../rfc7662/introspection.js';
import { discover, discoveryUrl } from '../rfc8414/discovery.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';
import { MemoryTokenStore } from '../store/token-store.js';
import { bearerFetch } from './bearer-fetch.js';
import { DEFAULT_REFRESH_LEEWAY, type SessionOptions } from './options.js';
import { checkTimeout, DEFAULT_TIMEOUT, untilAborted, withRetries, withTimeout } from './refresh-retry.js';
import { ServerClock } from './server-clock.js';
import { SpentRefresh, TokenKeeper, tokenFor } from './token-keeper.js';
import { DPoPKey } from '../rfc9449/dpop.js';

export type Params = { scope?: string | undefined };

/** A call's own AbortSignal, combined with the session's `timeout`. */
export interface SignalOptions {
  /**
   * Aborts the call: it rejects with the signal's reason (as fetch does: an AbortError
   * DOMException unless the abort gave another) and its request is aborted. A discovery under way
   * is shared with other calls and is not aborted; the call stops waiting for it.
   */
  signal?: AbortSignal | undefined;
}

/** Which access token to use: the session's own, or (RFC 8707) one for `resource`. */
export interface ResourceOptions {
  /**
   * The resource (RFC 8707 §2) to present a token for: the session gets one with its refresh
   * token (§2.2; the resource must have been named in the authorization request) or by client
   * credentials, keeps it in the token set's `resource_tokens` and renews it like its own.
   */
  resource?: string | undefined;
}

export class TokenSession {
  readonly client: Client;
  protected readonly auth: ClientAuth;
  protected readonly keeper: TokenKeeper;
  /** The server's clock, from the Date header of its token responses. */
  protected readonly clock = new ServerClock();
  /** How to get a new token (for a resource, RFC 8707) without a refresh token: set by clientCredentials(). */
  protected reissue: ((resource: string | undefined, signal: AbortSignal) => Promise<TokenSet>) | undefined;
  private server: Promise<AuthorizationServer> | undefined;
  /** The DPoP key (RFC 9449) proofs are made with, when the session uses DPoP. */
  protected readonly dpop: DPoPKey | undefined;

  constructor(protected readonly options: SessionOptions) {
    if (options.issuer === undefined && options.server === undefined) throw new ConfigurationError('give an issuer (for discovery) or server metadata');
    // Caught here, not as the server's invalid_client much later (an unset environment variable, say).
    if (typeof options.clientId !== 'string' || options.clientId === '') throw new ConfigurationError('give a clientId: the client_id the server registered');
    checkTimeout(options.timeout);
    checkTimeout(options.refreshTimeout, 'refreshTimeout');
    this.client = { client_id: options.clientId };
    this.auth = options.clientAuth ?? none();
    const store = options.store ?? new MemoryTokenStore();
    this.keeper = new TokenKeeper({
      store,
      key: options.storeKey ?? options.clientId,
      // The store's lock is shared by everyone using the store (a file's by every process): one refresh at a time among them.
      lock: options.lock ?? store.lock ?? new LocalLock(),
      leeway: options.refreshLeeway ?? DEFAULT_REFRESH_LEEWAY,
      clock: this.clock,
      onUpdated: options.onTokenUpdated,
    });
    if (options.server) this.server = Promise.resolve(options.server);
    this.dpop = options.dpop === undefined || options.dpop === false ? undefined : new DPoPKey(options.dpop === true ? undefined : options.dpop);
  }

  /** The server's metadata: fetched on first use and cached (a failed fetch is retried next time). */
  metadata(): Promise<AuthorizationServer> {
    this.server ??= this.discover().catch((err) => {
      this.server = undefined;
      throw err;
    });
    return this.server;
  }

  /** Discovery, bounded by `timeout` (an issuer that is not a URL is discover()'s ConfigurationError). */
  private discover(): Promise<AuthorizationServer> {
    const issuer = this.options.issuer as string;
    const algorithm = this.options.discovery ?? 'oauth2';
    let url: string | undefined;
    try {
      url = discoveryUrl(issuer, algorithm).href;
    } catch {
      url = undefined;
    }
    return this.bounded(url, (http) => discover(issuer, { ...http, algorithm }));
  }

  /** The current token set (from the store on first use), or undefined. */
  getToken(): Promise<TokenSet | undefined> {
    return this.keeper.get();
  }

  /** Stores a token set obtained elsewhere (e.g. requests-oauthlib's token dict). */
  async setToken(token: TokenSet): Promise<void> {
    await this.keeper.save(token, 'issued');
  }

  /**
   * RFC 6749 §6: refreshes now (with `resource`, RFC 8707 §2.2: that resource's token); concurrent
   * calls (and session.fetch's refreshes) share one request. Returns the whole token set.
   */
  refresh(params: Params & ResourceOptions = {}): Promise<TokenSet> {
    return this.keeper.renew({ resource: params.resource, force: true }, (current) => this.renew(current, params));
  }

  /** An access token valid beyond the leeway, refreshed first if needed (for non-fetch transports). */
  async accessToken(options: ResourceOptions = {}): Promise<string> {
    return (await this.freshToken(options.resource)).access_token;
  }

  /**
   * OpenID Connect Core §5.3: the signed-in user's claims, from /userinfo with the access token;
   * sub checked against the ID Token. The request, its answer's body included, is bounded by
   * `timeout` (a renewal of the access token first, by `refreshTimeout`).
   */
  async userinfo(): Promise<UserInfo> {
    const token = await this.freshToken(undefined);
    const idToken = (await this.keeper.get())?.id_token;
    if (idToken === undefined) throw new ConfigurationError('userinfo() needs an ID Token: sign in with the openid scope');
    const sub = decodeJwt(idToken).sub as string;
    const as = await this.metadata();
    return this.bounded(as.userinfo_endpoint, async (http) => processUserInfoResponse(await userinfoRequest(as, token.access_token, http, token.token_type), sub));
  }

  /**
   * RP-Initiated Logout 1.0 §2: the URL that signs the user out at the server, with the session's
   * ID Token as hint. Only built: the browser goes there, the session sends nothing (discovery,
   * if the metadata is not cached yet, is bounded by `timeout` as always).
   */
  async endSessionUrl(params: Omit<EndSessionParameters, 'id_token_hint' | 'client_id'> = {}): Promise<string> {
    const token = await this.keeper.get();
    return buildEndSessionUrl(await this.metadata(), { ...params, client_id: this.client.client_id, id_token_hint: token?.id_token }, this.http()).href;
  }

  /**
   * RFC 7009: revokes a token; the hint is `access_token` or `refresh_token`. The request, its
   * answer's body included, is bounded by `timeout`: without a whole answer by then, a NetworkError
   * that says it timed out (the server may have revoked the token all the same).
   */
  async revoke(token: string, tokenTypeHint?: TokenTypeHint): Promise<void> {
    const as = await this.metadata();
    await this.bounded(as.revocation_endpoint, async (http) => processRevocationResponse(await revocationRequest(as, this.client, this.auth, token, tokenTypeHint, http)));
  }

  /**
   * Revokes the refresh token (RFC 7009 §2.1: the server may then revoke its grant's access tokens
   * too), the access token and every resource's access token, for servers that do not cascade:
   * all at once, each bounded by `timeout`, so the whole takes one `timeout` at most (after
   * discovery, if the metadata is not cached yet). The tokens are forgotten even if revoking fails;
   * then the error of the first revocation in that order that failed or timed out is thrown, once
   * every revocation has settled.
   */
  async logout(): Promise<void> {
    const token = await this.keeper.get();
    try {
      if (token !== undefined) {
        const revocations: [string, TokenTypeHint][] = [
          ...(token.refresh_token === undefined ? [] : [[token.refresh_token, 'refresh_token'] as [string, TokenTypeHint]]),
          [token.access_token, 'access_token'],
          ...Object.values(token.resource_tokens ?? {}).map((other): [string, TokenTypeHint] => [other.access_token, 'access_token']),
        ];
        const results = await Promise.allSettled(revocations.map(([value, hint]) => this.revoke(value, hint)));
        const failed = results.find((result) => result.status === 'rejected');
        if (failed !== undefined) throw failed.reason;
      }
    } finally {
      this.reissue = undefined;
      await this.keeper.clear();
    }
  }

  /**
   * RFC 7662: asks the server about a token (the session's access token by default). The request,
   * its answer's body included, is bounded by `timeout`.
   */
  async introspect(token?: string, tokenTypeHint?: TokenTypeHint): Promise<IntrospectionResponse> {
    const value = token ?? (await this.keeper.get())?.access_token;
    if (value === undefined) throw new MissingTokenError('access_token');
    const as = await this.metadata();
    return this.bounded(as.introspection_endpoint, async (http) =>
      processIntrospectionResponse(await introspectionRequest(as, this.client, this.auth, value, tokenTypeHint, http)),
    );
  }

  /**
   * fetch() with the access token (RFC 6750 §2.1; DPoP-bound: RFC 9449 §7.1), refreshed ahead of
   * expiry; on a 401 invalid_token, one refresh and one retry. With `resource`, that resource's
   * token (RFC 8707), obtained and kept by the session.
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit, options: ResourceOptions = {}): Promise<Response> {
    const request = makeRequest(input, init);
    // RFC 6750 §5.3: bearer tokens only over TLS (loopback excepted, or allowInsecureRequests).
    checkUrl(request.url, this.http());
    return bearerFetch(
      {
        fetch: this.options.fetch ?? ((r) => fetch(r)),
        dpop: this.dpop,
        token: () => this.freshToken(options.resource),
        renew: async (stale) => {
          const set = await this.keeper.get();
          return set !== undefined && this.renewable(set) ? this.renewFor(options.resource, stale) : undefined;
        },
      },
      request,
    );
  }

  /** The access token for `resource` (undefined: the set's own), renewed first when it expires within the margin. */
  private async freshToken(resource: string | undefined): Promise<AccessToken> {
    const set = await this.keeper.get();
    if (set === undefined) throw new MissingTokenError('access_token');
    const token = tokenFor(set, resource);
    if (token !== undefined && !this.keeper.expiresSoon(token)) return token;
    if (this.renewable(set)) return this.renewFor(resource, token);
    // Expired for good (or never had) and nothing to renew it with (e.g. the refresh token was dropped): sign in again.
    if (token === undefined || (token.expires_at !== undefined && token.expires_at <= this.clock.now())) throw new MissingTokenError('refresh_token');
    return token;
  }

  /** A new access token for `resource` in place of `seen` (the one the caller held, if any). */
  private async renewFor(resource: string | undefined, seen: AccessToken | undefined): Promise<AccessToken> {
    const set = await this.keeper.renew({ resource, seen }, (current) => this.renew(current, { resource }));
    const token = tokenFor(set, resource);
    if (token === undefined) throw new MissingTokenError('access_token');
    return token;
  }

  private renewable(token: TokenSet): boolean {
    return token.refresh_token !== undefined || this.reissue !== undefined;
  }

  /**
   * The token set after renewing its own access token or, with `resource`, that resource's (RFC
   * 8707 §2.2): the rest of the set carries on, with the rotated refresh token. Every resource's
   * token is renewed with the set's one refresh token, so all of them go through the keeper's lock.
   */
  private async renew(current: TokenSet | undefined, params: Params & ResourceOptions = {}): Promise<TokenSet> {
    const { resource, ...rest } = params;
    if (resource !== undefined && current === undefined) throw new MissingTokenError('access_token');
    const got = await this.obtain(current, resource === undefined ? rest : { ...rest, resource });
    const { access_token, token_type, expires_in, expires_at, scope, refresh_token, id_token } = got;
    let next: TokenSet;
    if (resource === undefined || current === undefined) {
      next = got;
      // A new token for the grant's own resource: the other resources' tokens are still good.
      if (current?.resource_tokens !== undefined) next.resource_tokens = current.resource_tokens;
    } else {
      const other: AccessToken = { access_token, token_type };
      if (expires_in !== undefined) other.expires_in = expires_in;
      if (expires_at !== undefined) other.expires_at = expires_at;
      if (scope !== undefined) other.scope = scope;
      next = { ...current, resource_tokens: { ...current.resource_tokens, [resource]: other } };
      if (refresh_token !== undefined) next.refresh_token = refresh_token;
    }
    if (current?.refresh_token !== undefined && id_token !== undefined) await this.checkRefreshedIdToken(current, next, id_token, access_token);
    const idToken = id_token ?? current?.id_token;
    return idToken === undefined ? next : { ...next, id_token: idToken };
  }

  /**
   * OIDC Core §12.2: a refreshed ID Token is validated and names the same user. The refresh token
   * is spent by now (the server may have rotated it), so a failure is a SpentRefresh: an ID Token
   * that fails a check takes the tokens it came with down too, and the spent refresh token is
   * dropped; a JWK Set that could not be fetched (a network failure, an HTTP error: nothing says
   * the ID Token is bad) keeps the new tokens with the ID Token validated before, and the error
   * is thrown after they are stored.
   */
  private async checkRefreshedIdToken(current: TokenSet, next: TokenSet, idToken: string, accessToken: string): Promise<void> {
    let sub: string;
    try {
      // Its JWK Set is fetched while the lock is held: bounded as the refresh was.
      const metadata = await this.metadata();
      ({ sub } = await this.bounded(metadata.jwks_uri, (http) => validateIdToken(metadata, this.client, idToken, { accessToken }, http), { timeout: this.refreshTimeout }));
    } catch (err) {
      if (err instanceof IdTokenError) throw new SpentRefresh(err);
      const { id_token: _unchecked, ...keep } = next;
      throw new SpentRefresh(err, current.id_token === undefined ? keep : { ...keep, id_token: current.id_token });
    }
    if (current.id_token !== undefined && decodeJwt(current.id_token).sub !== sub) throw new SpentRefresh(new IdTokenError('the refreshed ID Token names another user', 'sub'));
  }

  /**
   * One refresh (RFC 6749 §6), or a new client_credentials token, retried as refresh-retry.ts
   * says: a refresh token is sent again only when the first request certainly was not processed.
   * invalid_grant becomes ReauthenticationRequiredError.
   */
  private async obtain(current: TokenSet | undefined, params: Params & ResourceOptions): Promise<TokenSet> {
    const retry = this.options.retry ?? {};
    if (current?.refresh_token === undefined) {
      const reissue = this.reissue;
      if (reissue) return withRetries((signal) => reissue(params.resource, signal), retry, false, this.refreshTimeout, (await this.metadata()).token_endpoint);
      throw new MissingTokenError('refresh_token');
    }
    const as = await this.metadata();
    const refreshToken = current.refresh_token;
    let token: TokenSet;
    try {
      token = await withRetries(
        async (signal) => {
          // A browser that knows it is offline: nothing would be sent, so say so without trying.
          if ((globalThis.navigator as { onLine?: boolean } | undefined)?.onLine === false) throw new NetworkError(as.token_endpoint ?? as.issuer, 'offline', true);
          return processTokenResponse(await refreshTokenGrantRequest(as, this.client, this.auth, refreshToken, params, this.http(signal)), this.clock);
        },
        retry,
        true,
        this.refreshTimeout,
        as.token_endpoint ?? as.issuer,
      );
    } catch (err) {
      redactSecrets(err, [refreshToken]);
      // RFC 6749 §5.2: the refresh token is invalid, expired, revoked or was already used.
      if (err instanceof OAuthResponseError && err.error === 'invalid_grant') throw new ReauthenticationRequiredError(err);
      throw err;
    }
    // RFC 6749 §6: no new refresh token means the old one stays; §5.1: no scope means unchanged.
    token.refresh_token ??= current.refresh_token;
    if (token.scope === undefined && current.scope !== undefined) token.scope = current.scope;
    return token;
  }

  /** Milliseconds one request to the server may take (the `timeout` option). */
  protected get timeout(): number {
    return this.options.timeout ?? DEFAULT_TIMEOUT;
  }

  /** Milliseconds one request of a renewal may take: `refreshTimeout`, else `timeout`. */
  protected get refreshTimeout(): number {
    return this.options.refreshTimeout ?? this.timeout;
  }

  /**
   * `work` given the session's HTTP options with a signal that aborts after `timeout` ms (default:
   * the `timeout` option), or when `signal` (the caller's) aborts: work that has no whole answer
   * by then, its body included, fails as a NetworkError naming `url` (the request's; else the
   * issuer) and saying it timed out after how long; the caller's abort rejects with its reason.
   */
  protected bounded<T>(url: string | undefined, work: (http: HttpOptions) => Promise<T>, options: { timeout?: number; signal?: AbortSignal | undefined } = {}): Promise<T> {
    const { timeout = this.timeout, signal } = options;
    return withTimeout((s) => work(this.http(s)), timeout, { url: url ?? this.options.issuer ?? this.options.server?.issuer ?? '', signal });
  }

  /**
   * `err` with `secrets` blanked (redactSecrets), unless it is the reason the caller's `signal`
   * aborted with: the caller's own value, passed on as it is, never rewritten.
   */
  protected redacted(err: unknown, secrets: ReadonlyArray<string | undefined>, signal: AbortSignal | undefined): unknown {
    return signal?.aborted === true && err === signal.reason ? err : redactSecrets(err, secrets);
  }

  /**
   * The server's metadata, or the reason of `signal` (the caller's) if it aborts first: discovery,
   * shared by every call and cached, is not aborted by one caller; it ends within its own timeout.
   */
  protected metadataFor(signal: AbortSignal | undefined): Promise<AuthorizationServer> {
    return untilAborted(() => this.metadata(), signal);
  }

  protected http(signal?: AbortSignal): HttpOptions {
    const { fetch, headers, allowInsecureRequests } = this.options;
    return { fetch, headers, allowInsecureRequests, signal, ...(this.dpop ? { dpop: this.dpop } : {}) };
  }

  /** What can be shown of the session: never a token, a secret, a code or a header value. */
  toJSON(): { client_id: string; issuer: string | undefined; token: ReturnType<TokenKeeper['toJSON']> } {
    return { client_id: this.client.client_id, issuer: this.options.issuer ?? this.options.server?.issuer, token: this.keeper.toJSON() };
  }

  toString(): string {
    return `[${this.constructor.name} ${this.client.client_id}]`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `${this.constructor.name} ${JSON.stringify(this.toJSON())}`;
  }
}

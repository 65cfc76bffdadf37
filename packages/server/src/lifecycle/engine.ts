/**
 * The lifecycle engine owns the rules: every token belongs to a grant, refresh tokens rotate and
 * a replayed one revokes its family, a replayed code revokes what it produced, revocation is
 * immediate, and every event lands in the audit log in the same transaction as the change.
 * Protocol endpoints call it; it talks to storage only through the Store contract, which it keeps
 * to itself. Each step lives in its own module; this class holds their shared state and events.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import type { ServerConfig } from '../config.js';
import type {
  AdminTokenRecord, AuditInput, ClientChanges, ClientRecord, CodeRecord, GrantRecord, PushedRequestRecord, RevocationResult, RevocationTarget, SessionRecord, Store, TokenRecord, UserProfile, UserRecord,
} from '../store/types.js';
import * as adminTokens from './admin-tokens.js';
import { type CodeParams, issueCode, redeemCode } from './codes.js';
import type { Actor, AuditSubject, EngineContext, EngineEvents } from './context.js';
import { type DeviceAuthorization, pollDeviceCode, startDeviceAuthorization } from './device.js';
import { type DeviceRequest, DeviceVerification, decideDevice } from './device-verification.js';
import { type ExchangeRequest, exchangeToken } from './exchange.js';
import { activeToken, findToken, subjectOf } from './find-token.js';
import { consentCovers, recordConsent } from './grants.js';
import { issueClientCredentials, issueImplicit, issuePassword } from './issue.js';
import type { KeyRing } from './keys.js';
import type { Issued } from './mint.js';
import * as principals from './principals.js';
import * as registration from './registration.js';
import { consumePushedRequest, pushedRequest, pushRequest } from './pushed-requests.js';
import { revoke, revokeByValue } from './revoke.js';
import { rotateRefresh } from './rotate-refresh.js';
import { endSession, type SignedIn, signedIn, startSession } from './sessions.js';
import { SignIn, type SignInSource } from './sign-in.js';
import { SignInThrottle, type Throttle, type ThrottleKind, throttleSettings } from './sign-in-throttle.js';
import { type AssertionContext, verifyClientAssertion } from '../rfc7523/client-assertion.js';
import { ClientKeys } from '../rfc7523/client-jwks.js';
import { allowedResources } from '../rfc8707/resource.js';
import { readSealingKey } from '../secrets.js';
import type { WebhookRecord } from '../store/types.js';
import * as webhooks from './webhooks.js';

export type { Actor, AuditSubject, EngineEvents, RevocationEvent } from './context.js';
export { SessionEnded } from './credentials.js';
export type { Issued, Minted } from './mint.js';
export type { DeviceAuthorization } from './device.js';
export type { DeviceRequest } from './device-verification.js';
export { describe, revocationTarget } from './revoke.js';
export { adminActor } from './admin-tokens.js';
export type { SignedIn } from './sessions.js';

/** The guessing throttle of each kind, when they are not this engine's own (cluster.ts). */
export type ThrottleSource = (kind: ThrottleKind) => Throttle;

export class LifecycleEngine extends EventEmitter<EngineEvents> {
  private readonly ctx: EngineContext;
  private readonly signIn: SignIn;
  private readonly deviceVerification: DeviceVerification;
  private readonly assertions: AssertionContext;
  private nonceKey: Promise<Buffer> | undefined;

  /**
   * The settings, keys and clock are the engine's own; endpoints get theirs from app.ts.
   * `throttle` gives the guessing throttles (by default this process's own; a cluster worker's
   * are its primary's, cluster.ts).
   */
  constructor(store: Store, config: ServerConfig, keys: KeyRing, now: () => number = Date.now, throttle?: ThrottleSource) {
    super();
    let sealingKey: Buffer | undefined;
    this.ctx = {
      store, config, keys, now,
      sealingKey: () => {
        if (config.clientSecretKeyFile === '') return undefined;
        sealingKey ??= readSealingKey(config.clientSecretKeyFile);
        return sealingKey;
      },
      clientGrants: new Map(),
      emitRevoked: (target, result, at, reason) => this.emit('revoked', { target, result, at, reason }),
    };
    this.assertions = {
      issuer: config.issuer, maxLifetime: config.clientAssertionMaxLifetime, keys: new ClientKeys(lookup), now,
      secretOf: (client) => principals.clientSecretOf(this.ctx, client),
      record: (clientId, jti, expiresAt) => store.recordAssertion(clientId, jti, expiresAt),
    };
    const local = (kind: ThrottleKind) =>
      new SignInThrottle(throttleSettings(config, kind === 'sign-in' ? (address) => this.emit('signInAddressThrottled', { address }) : undefined), now);
    this.signIn = new SignIn(store, config, throttle?.('sign-in') ?? local('sign-in'));
    this.deviceVerification = new DeviceVerification(this.ctx, throttle?.('device-code') ?? local('device-code'));
  }

  // ---- clients, users and sessions (principals.ts, sessions.ts, sign-in.ts) ----------------

  /** Creates a client; the secret (≥ 256 bits, generated here) is returned once and stored hashed. */
  createClient(input: principals.NewClient, by: Actor): Promise<{ client: ClientRecord; secret?: string }> {
    return principals.createClient(this.ctx, input, by);
  }

  /**
   * Gives a confidential client a new secret, returned once; the old one keeps working for
   * `graceSeconds` (0: stops at once). Undefined if there is no such client.
   */
  rotateClientSecret(id: string, by: Actor, graceSeconds = 0): Promise<string | undefined> {
    return principals.rotateClientSecret(this.ctx, id, graceSeconds, by);
  }

  /** Changes a client's registration; its client_id, secret, tokens and grants stay. Undefined if there is no such client. */
  updateClient(id: string, changes: ClientChanges, by: Actor): Promise<ClientRecord | undefined> {
    return principals.updateClient(this.ctx, id, changes, by);
  }

  deleteClient(id: string, by: Actor): Promise<RevocationResult | undefined> {
    return principals.deleteClient(this.ctx, id, by);
  }

  // ---- lifecycle webhooks (webhooks.ts) ---------------------------------------------------

  /** Subscribes `url` to events; the signing secret is returned once and stored sealed. RangeError: a bad URL or event. */
  addWebhook(url: string, events: readonly string[], by: Actor): Promise<{ webhook: WebhookRecord; secret: string }> {
    return webhooks.addWebhook(this.ctx, url, events, by);
  }

  /** Removes a subscription and its deliveries; false if there is none. */
  removeWebhook(id: string, by: Actor): Promise<boolean> {
    return webhooks.removeWebhook(this.ctx, id, by);
  }

  // ---- dynamic client registration (registration.ts; RFC 7591, RFC 7592) -------------------

  /** `tessera client initial-token`: a one-time token for /register, returned once and stored hashed. */
  mintInitialAccessToken(expiresIn: number, by: Actor): Promise<{ value: string; expiresAt: number }> {
    return registration.mintInitialAccessToken(this.ctx, expiresIn, by);
  }

  /**
   * RFC 7591 §3.2.1: creates the client with a registration access token, both returned once;
   * with `initialToken` it is spent in the same write (undefined: unknown, expired or spent).
   */
  registerClient(input: principals.NewClient, by: Actor, initialToken?: string): Promise<registration.Registered | undefined> {
    return registration.registerClient(this.ctx, input, by, initialToken);
  }

  /** RFC 7592 §3: constant-time check of a registration access token. */
  registrationTokenMatches(client: ClientRecord, value: string): boolean {
    return registration.registrationTokenMatches(client, value);
  }

  /** RFC 7523 §3: a private_key_jwt client's assertion, verified and recorded against replay; throws invalid_client. */
  verifyClientAssertion(client: ClientRecord, assertion: string): Promise<void> {
    return verifyClientAssertion(this.assertions, client, assertion);
  }

  getClient(id: string): Promise<ClientRecord | undefined> {
    return this.ctx.store.getClient(id);
  }

  /** Constant-time check of a client secret against its stored SHA-256 (or the previous one's, within its grace period). */
  clientSecretMatches(client: ClientRecord, secret: string): boolean {
    return principals.clientSecretMatches(client, secret, this.ctx.now());
  }

  /** A user, with an optional OpenID Connect profile (name, email, email_verified). */
  createUser(username: string, password: string, by: Actor, profile?: UserProfile): Promise<UserRecord> {
    return principals.createUser(this.ctx, username, password, by, profile);
  }

  /** Replaces the user's profile; false if the user no longer exists. */
  setUserProfile(user: UserRecord, profile: UserProfile, by: Actor): Promise<boolean> {
    return principals.setUserProfile(this.ctx, user, profile, by);
  }

  deleteUser(id: string, by: Actor): Promise<RevocationResult | undefined> {
    return principals.deleteUser(this.ctx, id, by);
  }

  getUser(id: string): Promise<UserRecord | undefined> {
    return this.ctx.store.getUser(id);
  }

  /** A password change revokes the user's grants: sessions on other devices must log in again. */
  setPassword(id: string, password: string, by: Actor): Promise<RevocationResult | undefined> {
    return principals.setPassword(this.ctx, id, password, by);
  }

  /**
   * Checks a user's password with the slow KDF (the same work for unknown users), throttled
   * against guessing and audited when it fails (sign-in.ts); throws 429 `slow_down` when throttled.
   */
  authenticateUser(username: string, password: string, from: SignInSource): Promise<UserRecord | undefined> {
    return this.signIn.authenticate(username, password, from);
  }

  /** Starts a browser session; the cookie value, or undefined if the password changed since it was checked. */
  startSession(user: UserRecord): Promise<string | undefined> {
    return startSession(this.ctx, user);
  }

  /** Signs out: ends the browser session (audited), and revokes the user's tokens if config.logoutRevokesTokens. */
  endSession(signedIn: SignedIn, by: Actor): Promise<boolean> {
    return endSession(this.ctx, signedIn, by);
  }

  /** The user signed in through the session with this cookie value, if it is live. */
  signedIn(sessionValue: string): Promise<SignedIn | undefined> {
    return signedIn(this.ctx, sessionValue);
  }

  // ---- grants (grants.ts) ------------------------------------------------------------------

  /** The user's standing grant to the client, if it covers every requested scope and resource (RFC 8707). */
  consentCovers(client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, resources: readonly string[] = []): Promise<GrantRecord | undefined> {
    return consentCovers(this.ctx, client, user, scopes, resources);
  }

  /** Creates or widens the grant (scopes, resources); throws SessionEnded, storing nothing, if the session ended meanwhile. */
  recordConsent(
    client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, by: Actor, session: SessionRecord, resources: readonly string[] = [],
  ): Promise<GrantRecord> {
    return recordConsent(this.ctx, client, user, scopes, by, session, resources);
  }

  // ---- pushed authorization requests (pushed-requests.ts) ----------------------------------

  /** RFC 9126 §2: stores the request; the reference value for its request_uri, returned once. */
  pushRequest(client: ClientRecord, params: URLSearchParams, by: Actor): Promise<string> {
    return pushRequest(this.ctx, client, params, by);
  }

  /** The request `clientId` pushed under `value`, while it lives. */
  pushedRequest(clientId: string, value: string): Promise<PushedRequestRecord | undefined> {
    return pushedRequest(this.ctx, clientId, value);
  }

  /** Uses up a pushed request; true for the one caller that does (RFC 9126 §4). */
  consumePushedRequest(value: string): Promise<boolean> {
    return consumePushedRequest(this.ctx, value);
  }

  // ---- issuance (issue.ts, codes.ts, rotate-refresh.ts) ------------------------------------
  // `jkt`: the key of the token request's DPoP proof (RFC 9449), which access tokens are bound to; null for bearer tokens.

  /** RFC 6749 §4.4: an access token only (§4.4.3). */
  issueClientCredentials(client: ClientRecord, scope: string, by: Actor, jkt: string | null = null, resource?: string): Promise<Issued> {
    return issueClientCredentials(this.ctx, client, scope, by, jkt, resource);
  }

  /** RFC 6749 §4.3 (legacy), for a user whose password the caller checked. */
  issuePassword(client: ClientRecord, user: UserRecord, scope: string, by: Actor, jkt: string | null = null, resource?: string): Promise<Issued> {
    return issuePassword(this.ctx, client, user, scope, by, jkt, resource);
  }

  /** RFC 6749 §4.1.2: a single-use code; throws SessionEnded, storing nothing, if the session ended. */
  issueCode(client: ClientRecord, user: UserRecord, grant: GrantRecord, params: CodeParams, by: Actor, session: SessionRecord): Promise<string> {
    return issueCode(this.ctx, client, user, grant, params, by, session);
  }

  /** RFC 6749 §4.2 (legacy implicit); throws SessionEnded, storing nothing, if the session ended. */
  issueImplicit(client: ClientRecord, user: UserRecord, grant: GrantRecord, scope: string, by: Actor, session: SessionRecord, resource?: string): Promise<Issued> {
    return issueImplicit(this.ctx, client, user, grant, scope, by, session, resource);
  }

  /**
   * RFC 6749 §4.1.3: redeems a code once; `check` applies redirect_uri, PKCE and the DPoP key before it is spent; `jkt` the token
   * request's DPoP key (RFC 9449); `resource` (RFC 8707) one the request named.
   */
  redeemCode(client: ClientRecord, value: string, check: (code: CodeRecord) => void, by: Actor, jkt: string | null = null, resource?: string): Promise<Issued> {
    return redeemCode(this.ctx, client, value, check, by, jkt, resource);
  }

  /** RFC 6749 §6 with rotation: a new pair; a consumed token presented again revokes its family; `resource` (RFC 8707) one of the grant's. */
  rotateRefresh(client: ClientRecord, value: string, requested: ReadonlySet<string> | undefined, by: Actor, jkt: string | null = null, resource?: string): Promise<Issued> {
    return rotateRefresh(this.ctx, client, value, requested, by, jkt, resource);
  }

  /** RFC 8693: a token exchange, on the subject token's grant and family (exchange.ts says who may exchange what). */
  exchangeToken(client: ClientRecord, request: ExchangeRequest, by: Actor): Promise<Issued> {
    return exchangeToken(this.ctx, client, request, by);
  }

  /** RFC 8707: the resources the client may ask tokens for, its own and the server-wide ones. */
  allowedResources(client: ClientRecord): ReadonlySet<string> {
    return allowedResources(client, this.ctx.config);
  }

  // ---- device authorization, RFC 8628 (device.ts, device-verification.ts) -------------------

  /** RFC 8628 §3.2: a device code and a user code for the client, stored hashed. */
  startDeviceAuthorization(client: ClientRecord, scope: string, by: Actor, resources: string[] = []): Promise<DeviceAuthorization> {
    return startDeviceAuthorization(this.ctx, client, scope, by, resources);
  }

  /** RFC 8628 §3.4–3.5: tokens once approved, else authorization_pending, slow_down, access_denied or expired_token. */
  pollDeviceCode(client: ClientRecord, value: string, by: Actor, jkt: string | null = null, resource?: string): Promise<Issued> {
    return pollDeviceCode(this.ctx, client, value, by, jkt, resource);
  }

  /** The pending device authorization a user code names; throttled against guessing (429 `slow_down`). */
  findDeviceRequest(typed: string, user: UserRecord, address: string | undefined, endpoint: string): Promise<DeviceRequest | undefined> {
    return this.deviceVerification.find(typed, user, address, endpoint);
  }

  /** Approves (consent recorded in the same transaction) or denies; false if decided meanwhile or expired; SessionEnded if the session ended. */
  decideDevice(request: DeviceRequest, user: UserRecord, session: SessionRecord, approve: boolean, by: Actor): Promise<boolean> {
    return decideDevice(this.ctx, request, user, session, approve, by);
  }

  // ---- DPoP, RFC 9449 (rfc9449/dpop.ts) -----------------------------------------------------

  /** §11.1: records a proof's jti for its key until it could no longer be accepted; 'replayed' when any process did before. */
  recordDpopProof(jkt: string, jti: string, until: number): Promise<'recorded' | 'replayed'> {
    return this.ctx.store.recordDpopProof(jkt, jti, until);
  }

  /** The key DPoP nonces (§8) are made with: one per database, made by the first process that needs it, read once. */
  dpopNonceKey(): Promise<Buffer> {
    this.nonceKey ??= this.ctx.store.serverSecret('dpop-nonce', randomBytes(32).toString('base64url')).then(
      (value) => Buffer.from(value, 'base64url'),
      (err: unknown) => {
        this.nonceKey = undefined;
        throw err;
      },
    );
    return this.nonceKey;
  }

  // ---- admin tokens (admin-tokens.ts) -------------------------------------------------------

  /** `tessera admin token create`: the value, returned once, and its record; undefined if the name is taken. */
  createAdminToken(input: adminTokens.NewAdminToken, by: Actor): Promise<{ value: string; token: AdminTokenRecord } | undefined> {
    return adminTokens.createAdminToken(this.ctx, input, by);
  }

  /** The live (unrevoked, unexpired) admin token a presented value is, compared in constant time. */
  adminTokenFor(value: string): Promise<AdminTokenRecord | undefined> {
    return adminTokens.adminTokenFor(this.ctx, value);
  }

  /** The live admin token with this id (a web console session's), undefined once it is revoked or expired. */
  liveAdminToken(id: string): Promise<AdminTokenRecord | undefined> {
    return adminTokens.liveAdminToken(this.ctx, id);
  }

  /** Revokes the live admin token with this name or id; undefined if there is none. */
  revokeAdminToken(nameOrId: string, by: Actor): Promise<AdminTokenRecord | undefined> {
    return adminTokens.revokeAdminToken(this.ctx, nameOrId, by);
  }

  // ---- lookup and revocation (find-token.ts, revoke.ts) ------------------------------------

  /** The token's record if it is active now (not expired, revoked, or consumed). */
  activeToken(value: string): Promise<TokenRecord | undefined> {
    return activeToken(this.ctx, value);
  }

  /** Whom the token is about (`sub`): its user, else its grant's client (find-token.ts subjectOf). */
  subjectOf(token: TokenRecord): Promise<string> {
    return subjectOf(this.ctx, token);
  }

  /** The token a presented value is, found by the id it carries: an opaque token's own, a JWT's jti. */
  findToken(value: string): Promise<TokenRecord | undefined> {
    return findToken(this.ctx, value);
  }

  /**
   * Revokes what the target covers, atomically, with an audit record; then tells subscribers.
   * `subject` names the client, user and grant concerned (default: those of `first`).
   */
  revoke(target: RevocationTarget, by: Actor, first?: AuditInput, subject?: AuditSubject): Promise<RevocationResult> {
    return revoke(this.ctx, target, by, first, subject);
  }

  /** RFC 7009 §2.1: a client revokes one of its own tokens (revoke.ts revocationTarget says what that covers). */
  revokeByValue(client: ClientRecord, value: string, by: Actor): Promise<void> {
    return revokeByValue(this.ctx, client, value, by);
  }
}

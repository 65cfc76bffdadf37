/**
 * The lifecycle engine owns the rules: every token belongs to a grant, refresh tokens rotate and
 * a replayed one revokes its family, a replayed code revokes what it produced, revocation is
 * immediate, and every event lands in the audit log in the same transaction as the change.
 * Protocol endpoints call it; it talks to storage only through the Store contract.
 */
import { EventEmitter } from 'node:events';
import { OAuthError, basicChallenge, formatScope } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { decodeJwt } from 'jose';
import { hashesEqual, hashPassword, hashSecret, idInSecret, randomId, randomSecret, secretFor } from '../secrets.js';
import type {
  AuditInput, CheckedCredentials, ClientRecord, CodeRecord, GrantRecord, RevocationResult, RevocationTarget, SessionRecord, Store, TokenRecord,
  UserRecord,
} from '../store/types.js';
import type { KeyRing } from './keys.js';
import { SignIn, type SignInSource } from './sign-in.js';

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

/** Who caused an event: `client:ID`, `user:ID`, `cli`, `system`. */
export interface Actor {
  actor: string;
  endpoint?: string;
  reason?: string;
}

export interface RevocationEvent {
  target: RevocationTarget;
  result: RevocationResult;
  at: number;
  reason: string;
}

export interface EngineEvents {
  revoked: [RevocationEvent];
  /** Failed sign-ins from one client address (its throttling key) started its back-off over all accounts. */
  signInAddressThrottled: [{ address: string }];
}

/** Who a revocation concerns, for its audit record. */
export type AuditSubject = Pick<AuditInput, 'clientId' | 'userId' | 'grantId'>;

/** A bound on remembered client grants, past which they are forgotten and looked up again. */
const CLIENT_GRANTS_MAX = 10_000;
/** A revocation of the grant committed between our check and our write: nothing was issued. */
const grantRevoked = () => new OAuthError('invalid_grant', 'the grant was revoked');
/** What a write of a new grant answers when its (client, user) pair got a live grant first (withGrant). */
const GRANT_CONFLICT = Symbol('grant conflict');
/** How often withGrant looks again for the pair's grant after a conflict before giving up. */
const GRANT_ATTEMPTS = 5;
/**
 * A credential the request was checked with changed before the write committed (a password set,
 * a secret rotated, a user or client deleted): nothing was issued, as if the check had failed.
 */
export function credentialChanged(checked: CheckedCredentials): OAuthError {
  // RFC 6749 §5.2: invalid_client is a 401; the challenge is owed if Basic was tried, harmless if not.
  return checked.user
    ? new OAuthError('invalid_grant', 'invalid username or password')
    : new OAuthError('invalid_client', 'client authentication failed', basicChallenge());
}
/**
 * The browser session a request acted through ended (a password change, the user's deletion, a
 * sign-out) before its write committed: nothing was stored, and the user must sign in again.
 */
export class SessionEnded extends Error {
  constructor() {
    super('the browser session ended');
    this.name = 'SessionEnded';
  }
}
/** What a signed-in user does is written only while their session still exists. */
const throughSession = (user: UserRecord, session: SessionRecord): CheckedCredentials => ({ session: { hash: session.hash, userId: user.id } });

/** The client as it was authenticated: writes on its behalf are conditional on its secret. */
const asChecked = (client: ClientRecord, user?: UserRecord): CheckedCredentials => ({
  client: { id: client.id, secretHash: client.secretHash },
  ...(user ? passwordChecked(user) : {}),
});

/** The user as their password was checked: a write on their behalf is conditional on it. */
const passwordChecked = (user: UserRecord) => ({ user: { id: user.id, passwordHash: user.passwordHash } });

const PREFIX = { access: 'tsa_', refresh: 'tsr_', code: 'tsc_', clientSecret: 'tss_' } as const;

export class LifecycleEngine extends EventEmitter<EngineEvents> {
  /** Each client's client_credentials grant, by client id (see issueClientCredentials). */
  private readonly clientGrants = new Map<string, GrantRecord>();
  private readonly signIn: SignIn;

  constructor(
    readonly store: Store,
    readonly config: ServerConfig,
    readonly keys: KeyRing,
    readonly now: () => number = Date.now,
  ) {
    super();
    this.signIn = new SignIn(store, config, now, (address) => this.emit('signInAddressThrottled', { address }));
  }

  // ---- clients and users -------------------------------------------------------------------

  /** Creates a client; the secret (≥ 256 bits, generated here) is returned once and stored hashed. */
  async createClient(input: Omit<ClientRecord, 'id' | 'secretHash' | 'createdAt'>, by: Actor): Promise<{ client: ClientRecord; secret?: string }> {
    const secret = input.authMethod === 'none' ? undefined : randomSecret(PREFIX.clientSecret);
    const client: ClientRecord = {
      ...input,
      id: randomId(),
      secretHash: secret === undefined ? null : hashSecret(secret),
      createdAt: this.now(),
    };
    await this.store.createClient(client, { event: 'client.created', ...by, clientId: client.id, data: { name: client.name } });
    return secret === undefined ? { client } : { client, secret };
  }

  /**
   * Gives a confidential client a new secret, returned once and stored hashed. The old one stops
   * working at the commit, also for requests checked with it and still in flight (their writes
   * are conditional on it); tokens already issued stay valid (`token revoke --client` ends them).
   */
  async rotateClientSecret(id: string, by: Actor): Promise<string | undefined> {
    const secret = randomSecret(PREFIX.clientSecret);
    const done = await this.store.setClientSecret(id, hashSecret(secret), [{ event: 'client.secret_rotated', ...by, clientId: id }]);
    return done ? secret : undefined;
  }

  async deleteClient(id: string, by: Actor): Promise<RevocationResult | undefined> {
    const at = this.now();
    const result = await this.store.deleteClient(id, at, [
      { event: 'client.deleted', ...by, clientId: id },
      { event: 'token.revoked', ...by, clientId: id, reason: by.reason ?? 'client deleted' },
    ]);
    if (result) this.emitRevoked({ client: id }, result, at, by.reason ?? 'client deleted');
    return result;
  }

  async createUser(username: string, password: string, by: Actor): Promise<UserRecord> {
    const user: UserRecord = { id: randomId(), username, passwordHash: await hashPassword(password), createdAt: this.now() };
    await this.store.createUser(user, { event: 'user.created', ...by, userId: user.id });
    return user;
  }

  async deleteUser(id: string, by: Actor): Promise<RevocationResult | undefined> {
    const at = this.now();
    const result = await this.store.deleteUser(id, at, [
      { event: 'user.deleted', ...by, userId: id },
      { event: 'token.revoked', ...by, userId: id, reason: by.reason ?? 'user deleted' },
    ]);
    if (result) this.emitRevoked({ user: id }, result, at, by.reason ?? 'user deleted');
    return result;
  }

  /** A password change revokes the user's grants: sessions on other devices must log in again. */
  async setPassword(id: string, password: string, by: Actor): Promise<RevocationResult | undefined> {
    const at = this.now();
    const result = await this.store.setPassword(id, await hashPassword(password), at, [
      { event: 'user.password_changed', ...by, userId: id },
      { event: 'token.revoked', ...by, userId: id, reason: by.reason ?? 'password changed' },
    ]);
    if (result) this.emitRevoked({ user: id }, result, at, by.reason ?? 'password changed');
    return result;
  }

  /**
   * Checks a user's password with the slow KDF (the same work for unknown users), throttled
   * against guessing and audited when it fails (sign-in.ts); throws 429 `slow_down` when throttled.
   */
  authenticateUser(username: string, password: string, from: SignInSource): Promise<UserRecord | undefined> {
    return this.signIn.authenticate(username, password, from);
  }

  /**
   * Starts a browser session for a user who just proved their password; returns the cookie value
   * (only its hash is stored), or undefined if the password (or the user) changed after it was
   * checked: the session is written only if `user.passwordHash` is still the stored one.
   */
  async startSession(user: UserRecord): Promise<string | undefined> {
    // A fresh session value at every login (no session fixation).
    const value = randomSecret();
    const now = this.now();
    const session = { hash: hashSecret(value), userId: user.id, createdAt: now, expiresAt: now + this.config.sessionTtl * 1000 };
    const created = await this.store.createSession(session, passwordChecked(user));
    return created === 'created' ? value : undefined;
  }

  /** Constant-time check of a client secret against its stored SHA-256. */
  clientSecretMatches(client: ClientRecord, secret: string): boolean {
    return client.secretHash !== null && hashesEqual(hashSecret(secret), client.secretHash);
  }

  // ---- grants ------------------------------------------------------------------------------

  /** The user's standing grant to the client, if it covers every requested scope. */
  async consentCovers(client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>): Promise<GrantRecord | undefined> {
    const grant = await this.store.findGrant(client.id, user.id);
    if (!grant) return undefined;
    const granted = new Set(grant.scope.split(' '));
    for (const s of scopes) if (!granted.has(s)) return undefined;
    return grant;
  }

  /**
   * Records consent given through `session`: creates the grant or widens it to include the
   * scopes. Throws SessionEnded, storing nothing, if the session ended meanwhile.
   */
  recordConsent(client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, by: Actor, session: SessionRecord): Promise<GrantRecord> {
    return this.withGrant(client.id, user.id, (existing) => this.saveConsent(client, user, scopes, existing, by, session));
  }

  private async saveConsent(
    client: ClientRecord, user: UserRecord, scopes: ReadonlySet<string>, existing: GrantRecord | undefined, by: Actor, session: SessionRecord,
  ): Promise<GrantRecord | typeof GRANT_CONFLICT> {
    const scope = formatScope(new Set([...(existing?.scope.split(' ').filter(Boolean) ?? []), ...scopes]));
    const grant: GrantRecord = existing
      ? { ...existing, scope }
      : { id: randomId(), clientId: client.id, userId: user.id, scope, createdAt: this.now(), revokedAt: null };
    const saved = await this.store.saveGrant(grant, [
      { event: existing ? 'grant.widened' : 'grant.created', ...by, clientId: client.id, userId: user.id, grantId: grant.id, data: { scope } },
    ], throughSession(user, session));
    if (saved === 'credential-changed') throw new SessionEnded();
    if (saved === 'conflict') return GRANT_CONFLICT;
    return grant;
  }

  /**
   * Runs `use` with the live grant of (client, user), or with none, in which case `use` writes a
   * new one. The store keeps one live grant per pair (a second one would escape revoking "the"
   * grant): when a concurrent request, in any process, wrote the pair's grant first, `use` answers
   * GRANT_CONFLICT, having stored nothing, and runs again with the grant that won.
   */
  private async withGrant<T>(
    clientId: string, userId: string | null, use: (existing: GrantRecord | undefined) => Promise<T | typeof GRANT_CONFLICT>,
  ): Promise<T> {
    for (let attempt = 0; attempt < GRANT_ATTEMPTS; attempt++) {
      const result = await use(await this.store.findGrant(clientId, userId));
      if (result !== GRANT_CONFLICT) return result;
    }
    // Each winner was revoked before we could find it: give up as on a revoked grant.
    throw grantRevoked();
  }

  // ---- issuance ----------------------------------------------------------------------------

  /** RFC 6749 §4.4: client credentials get an access token only (§4.4.3: no refresh token). */
  async issueClientCredentials(client: ClientRecord, scope: string, by: Actor): Promise<TokenResponse> {
    // The client's own grant, remembered from its last token. The store checks in the write that
    // the grant is still live, so a grant revoked since (by any process) costs one retry, never a
    // token: the retry finds or creates the live grant as on a first request.
    const known = this.clientGrants.get(client.id);
    if (known) {
      const issued = await this.clientCredentialsWith(client, scope, known, by);
      // No conflict is possible here: an existing grant is not written.
      if (issued && issued !== GRANT_CONFLICT) return issued;
      this.clientGrants.delete(client.id);
    }
    const issued = await this.withGrant(client.id, null, (existing) => this.clientCredentialsWith(client, scope, existing, by));
    if (!issued) throw grantRevoked();
    return issued;
  }

  /** Issues on `existing` (or on a new grant); undefined if the store found the grant revoked. */
  private async clientCredentialsWith(
    client: ClientRecord, scope: string, existing: GrantRecord | undefined, by: Actor,
  ): Promise<TokenResponse | undefined | typeof GRANT_CONFLICT> {
    const now = this.now();
    // The client's own grant covers what it registered; each token carries what was asked for.
    const grant: GrantRecord = existing ?? { id: randomId(), clientId: client.id, userId: null, scope: client.scope, createdAt: now, revokedAt: null };
    const access = await this.mintAccess(client, grant, null, null, null, scope, now);
    const checked = asChecked(client);
    const stored = await this.store.issueTokens([access.record], [this.issuedEvent(access.record, by)], existing ? undefined : grant, checked);
    if (stored === 'credential-changed') throw credentialChanged(checked);
    if (stored === 'conflict') return GRANT_CONFLICT;
    if (stored === 'grant-revoked') return undefined;
    if (this.clientGrants.size >= CLIENT_GRANTS_MAX) this.clientGrants.clear();
    this.clientGrants.set(client.id, grant);
    return this.response(access, undefined, scope, now);
  }

  /**
   * RFC 6749 §4.3 (legacy): the resource owner's password, checked by the caller against `user`
   * as read then: the tokens are written only if the password (and the client's secret) did not
   * change meanwhile.
   */
  issuePassword(client: ClientRecord, user: UserRecord, scope: string, by: Actor): Promise<TokenResponse> {
    return this.withGrant(client.id, user.id, (existing) => this.passwordWith(client, user, scope, existing, by));
  }

  private async passwordWith(
    client: ClientRecord, user: UserRecord, scope: string, existing: GrantRecord | undefined, by: Actor,
  ): Promise<TokenResponse | typeof GRANT_CONFLICT> {
    const now = this.now();
    const grantScope = formatScope(new Set([...(existing?.scope.split(' ').filter(Boolean) ?? []), ...scope.split(' ').filter(Boolean)]));
    const grant: GrantRecord = existing
      ? { ...existing, scope: grantScope }
      : { id: randomId(), clientId: client.id, userId: user.id, scope: grantScope, createdAt: now, revokedAt: null };
    const family = randomId();
    const access = await this.mintAccess(client, grant, user, family, null, scope, now);
    const refresh = client.grantTypes.includes('refresh_token') ? this.mintRefresh(client, grant, user.id, family, null, scope, now) : undefined;
    const records = refresh ? [access.record, refresh.record] : [access.record];
    const checked = asChecked(client, user);
    const stored = await this.store.issueTokens(records, records.map((r) => this.issuedEvent(r, by)), grant, checked);
    if (stored === 'credential-changed') throw credentialChanged(checked);
    if (stored === 'conflict') return GRANT_CONFLICT;
    if (stored === 'grant-revoked') throw grantRevoked();
    return this.response(access, refresh, scope, now);
  }

  /**
   * Issues a single-use authorization code (RFC 6749 §4.1.2), living ≤ config.codeTtl seconds, to
   * the user signed in through `session`; throws SessionEnded, storing nothing, if it ended.
   */
  async issueCode(
    client: ClientRecord,
    user: UserRecord,
    grant: GrantRecord,
    params: { scope: string; redirectUri: string; codeChallenge: string | null; codeChallengeMethod: 'S256' | 'plain' | null },
    by: Actor,
    session: SessionRecord,
  ): Promise<string> {
    const id = randomId();
    const value = secretFor(PREFIX.code, id);
    const now = this.now();
    const code: CodeRecord = {
      id,
      hash: hashSecret(value),
      grantId: grant.id,
      clientId: client.id,
      userId: user.id,
      scope: params.scope,
      redirectUri: params.redirectUri,
      codeChallenge: params.codeChallenge,
      codeChallengeMethod: params.codeChallengeMethod,
      issuedAt: now,
      expiresAt: now + this.config.codeTtl * 1000,
      redeemedAt: null,
    };
    const created = await this.store.createCode(code, [
      { event: 'code.issued', ...by, clientId: client.id, userId: user.id, grantId: grant.id, tokenId: code.id },
    ], throughSession(user, session));
    if (created === 'credential-changed') throw new SessionEnded();
    return value;
  }

  /**
   * RFC 6749 §4.2 (legacy implicit): an access token straight from the authorization endpoint, to
   * the user signed in through `session`; throws SessionEnded, storing nothing, if it ended.
   */
  async issueImplicit(client: ClientRecord, user: UserRecord, grant: GrantRecord, scope: string, by: Actor, session: SessionRecord): Promise<TokenResponse> {
    const now = this.now();
    const access = await this.mintAccess(client, grant, user, null, null, scope, now);
    const stored = await this.store.issueTokens([access.record], [this.issuedEvent(access.record, by)], undefined, throughSession(user, session));
    if (stored === 'credential-changed') throw new SessionEnded();
    if (stored === 'grant-revoked') throw grantRevoked();
    return this.response(access, undefined, scope, now);
  }

  /**
   * Redeems a code for tokens. `check` applies the protocol's checks (redirect_uri, PKCE) to the
   * code before it is spent.
   */
  async redeemCode(client: ClientRecord, value: string, check: (code: CodeRecord) => void, by: Actor): Promise<TokenResponse> {
    const code = await rowFor(value, idInSecret(value), (id) => this.store.getCode(id));
    const now = this.now();
    // RFC 6749 §4.1.3: the code must have been issued to this client.
    if (!code || code.clientId !== client.id) throw new OAuthError('invalid_grant', 'authorization code is invalid');
    if (code.redeemedAt !== null) return this.codeReplayed(code, by);
    if (code.expiresAt <= now) throw new OAuthError('invalid_grant', 'authorization code has expired');
    check(code);
    const [grant, user] = await Promise.all([this.store.getGrant(code.grantId), this.store.getUser(code.userId)]);
    if (!grant || grant.revokedAt !== null || !user) throw new OAuthError('invalid_grant', 'the grant behind this code was revoked');
    const family = code.id;
    const access = await this.mintAccess(client, grant, user, family, null, code.scope, now);
    const refresh = client.grantTypes.includes('refresh_token') ? this.mintRefresh(client, grant, user.id, family, null, code.scope, now) : undefined;
    const records = refresh ? [access.record, refresh.record] : [access.record];
    const audit = [
      { event: 'code.redeemed', ...by, clientId: client.id, userId: user.id, grantId: grant.id, tokenId: code.id },
      ...records.map((r) => this.issuedEvent(r, by)),
    ];
    const checked = asChecked(client);
    const claim = await this.store.redeemCode(code.id, now, records, audit, checked);
    if (claim === 'credential-changed') throw credentialChanged(checked);
    if (claim === 'grant-revoked') throw grantRevoked();
    if (claim === 'already-used') return this.codeReplayed(code, by);
    return this.response(access, refresh, code.scope, now);
  }

  /** RFC 6749 §4.1.2: a code used twice is refused, and the tokens issued from it are revoked. */
  private async codeReplayed(code: CodeRecord, by: Actor): Promise<never> {
    const reason = 'authorization code replayed';
    // The detection record carries the reason too: an auditor reads it on its own.
    await this.revoke({ family: code.id, grant: code.grantId }, { ...by, reason }, {
      event: 'code.replayed', ...by, reason, clientId: code.clientId, userId: code.userId, grantId: code.grantId, tokenId: code.id,
    });
    throw new OAuthError('invalid_grant', 'authorization code was already used');
  }

  /**
   * RFC 6749 §6 with rotation (RFC 9700 §4.14.2): the old refresh token is consumed and a new
   * pair issued. A consumed token presented again revokes its whole family.
   */
  async rotateRefresh(client: ClientRecord, value: string, requested: ReadonlySet<string> | undefined, by: Actor): Promise<TokenResponse> {
    const old = await this.findToken(value);
    const now = this.now();
    if (old?.kind !== 'refresh' || old.clientId !== client.id) throw new OAuthError('invalid_grant', 'refresh token is invalid');
    if (old.revokedAt !== null) throw new OAuthError('invalid_grant', 'refresh token was revoked');
    const graceSince = this.config.refreshReuseGrace > 0 ? now - this.config.refreshReuseGrace * 1000 : null;
    if (old.consumedAt !== null && (graceSince === null || old.consumedAt < graceSince)) return this.refreshReused(old, by);
    if (old.expiresAt <= now) throw new OAuthError('invalid_grant', 'refresh token has expired');

    // RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
    const original = new Set(old.scope.split(' ').filter(Boolean));
    if (requested) for (const s of requested) if (!original.has(s)) throw new OAuthError('invalid_scope', 'the requested scope exceeds the scope originally granted');
    const accessScope = requested ? formatScope(requested) : old.scope;

    const [grant, user] = await Promise.all([
      this.store.getGrant(old.grantId),
      old.userId === null ? undefined : this.store.getUser(old.userId),
    ]);
    if (!grant || grant.revokedAt !== null || (old.userId !== null && !user)) throw new OAuthError('invalid_grant', 'the grant was revoked');
    const access = await this.mintAccess(client, grant, user ?? null, old.familyId, old.id, accessScope, now);
    // RFC 6749 §6: a new refresh token keeps the scope of the one it replaces.
    const refresh = this.mintRefresh(client, grant, old.userId, old.familyId, old.id, old.scope, now);
    const audit: AuditInput[] = [
      { event: old.consumedAt === null ? 'token.rotated' : 'token.rotated_in_grace', ...by, clientId: client.id, userId: old.userId, grantId: grant.id, tokenId: old.id },
      this.issuedEvent(access.record, by),
      this.issuedEvent(refresh.record, by),
    ];
    const checked = asChecked(client);
    const claim = await this.store.rotateRefresh(old.id, now, graceSince, [access.record, refresh.record], audit, checked);
    if (claim === 'credential-changed') throw credentialChanged(checked);
    if (claim === 'grant-revoked') throw grantRevoked();
    if (claim === 'already-used') return this.refreshReused(old, by);
    return this.response(access, refresh, accessScope, now);
  }

  private async refreshReused(old: TokenRecord, by: Actor): Promise<never> {
    const reason = 'refresh token reused';
    await this.revoke({ family: old.familyId, grant: old.grantId }, { ...by, reason }, {
      event: 'token.reuse_detected', ...by, reason, clientId: old.clientId, userId: old.userId, grantId: old.grantId, tokenId: old.id,
    });
    throw new OAuthError('invalid_grant', 'refresh token was already used');
  }

  // ---- lookup and revocation ---------------------------------------------------------------

  /** The token's record if it is active now (not expired, revoked, or consumed). */
  async activeToken(value: string): Promise<TokenRecord | undefined> {
    const token = await this.findToken(value);
    if (!token || token.revokedAt !== null || token.consumedAt !== null || token.expiresAt <= this.now()) return undefined;
    return token;
  }

  /** The token a presented value is, found by the id it carries: an opaque token's own, a JWT's jti. */
  findToken(value: string): Promise<TokenRecord | undefined> {
    return rowFor(value, idInSecret(value) ?? jtiOf(value), (id) => this.store.getToken(id));
  }

  /**
   * Revokes what the target covers, atomically, with an audit record; then tells subscribers.
   * `subject` names the client, user and grant concerned (default: those of `first`), so the
   * record is found by client or user even when the target is a token or a family.
   */
  async revoke(target: RevocationTarget, by: Actor, first?: AuditInput, subject: AuditSubject = first ?? {}): Promise<RevocationResult> {
    const at = this.now();
    // A cutoff in the future would revoke only the tokens issued so far, while guards applying the
    // feed event refuse every token issued before the cutoff, later ones included: refuse it.
    if ('issuedBefore' in target && !(target.issuedBefore <= at)) {
      throw new RangeError(`issuedBefore ${new Date(target.issuedBefore).toISOString()} is in the future`);
    }
    const reason = by.reason ?? 'revoked';
    const { clientId, userId, grantId } = subject;
    const audit: AuditInput[] = [
      ...(first ? [first] : []),
      { event: 'token.revoked', ...by, reason, clientId, userId, grantId, ...auditFields(target), data: { target: describe(target) } },
    ];
    const result = await this.store.revoke(target, at, audit);
    this.emitRevoked(target, result, at, reason);
    return result;
  }

  /**
   * RFC 7009 §2.1: a client revokes one of its own tokens. Revoking a refresh token also
   * invalidates the access tokens of the same grant.
   */
  async revokeByValue(client: ClientRecord, value: string, by: Actor): Promise<void> {
    const token = await this.findToken(value);
    // RFC 7009 §2.2: an invalid or unknown token still gets 200.
    if (!token) return;
    if (token.clientId !== client.id) throw new OAuthError('invalid_request', 'token was not issued to this client');
    if (token.revokedAt !== null) return;
    await this.revoke(token.kind === 'refresh' ? { grant: token.grantId } : { token: token.id }, by, undefined, token);
  }

  private emitRevoked(target: RevocationTarget, result: RevocationResult, at: number, reason: string) {
    this.emit('revoked', { target, result, at, reason });
  }

  // ---- token minting -----------------------------------------------------------------------

  /** `family` null: a token of no family (client_credentials, implicit), which is its own. */
  private async mintAccess(
    client: ClientRecord, grant: GrantRecord, user: UserRecord | null, family: string | null, parentId: string | null, scope: string, now: number,
  ) {
    const ttl = client.accessTtl ?? this.config.accessTokenTtl;
    const id = randomId();
    const familyId = family ?? id;
    const expiresAt = now + ttl * 1000;
    let value: string;
    if (client.tokenFormat === 'jwt') {
      // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti; typ "at+jwt" (§2.1). The private
      // claims (RFC 7519 §4.3) name the grant and family, so a guard matches feed events locally.
      value = await this.keys.sign(
        {
          iss: this.config.issuer,
          exp: Math.floor(expiresAt / 1000),
          aud: this.config.audience,
          sub: user?.id ?? client.id,
          client_id: client.id,
          iat: Math.floor(now / 1000),
          jti: id,
          scope,
          ...(user ? { username: user.username } : {}),
          tessera_grant: grant.id,
          tessera_family: familyId,
        },
        'at+jwt',
      );
    } else {
      value = secretFor(PREFIX.access, id);
    }
    const record: TokenRecord = {
      id, hash: hashSecret(value), kind: 'access', format: client.tokenFormat, grantId: grant.id, familyId, parentId,
      clientId: client.id, userId: user?.id ?? null, scope, issuedAt: now, expiresAt, revokedAt: null, consumedAt: null,
    };
    return { value, record, ttl };
  }

  private mintRefresh(client: ClientRecord, grant: GrantRecord, userId: string | null, familyId: string, parentId: string | null, scope: string, now: number) {
    const id = randomId();
    const value = secretFor(PREFIX.refresh, id);
    const ttl = client.refreshTtl ?? this.config.refreshTokenTtl;
    const record: TokenRecord = {
      id, hash: hashSecret(value), kind: 'refresh', format: 'opaque', grantId: grant.id, familyId, parentId,
      clientId: client.id, userId, scope, issuedAt: now, expiresAt: now + ttl * 1000, revokedAt: null, consumedAt: null,
    };
    return { value, record };
  }

  private issuedEvent(t: TokenRecord, by: Actor): AuditInput {
    return {
      event: 'token.issued', ...by, clientId: t.clientId, userId: t.userId, grantId: t.grantId, tokenId: t.id,
      data: { kind: t.kind, format: t.format, family: t.familyId, parent: t.parentId, scope: t.scope, exp: t.expiresAt },
    };
  }

  private response(access: { value: string; ttl: number }, refresh: { value: string } | undefined, scope: string, _now: number): TokenResponse {
    const body: TokenResponse = { access_token: access.value, token_type: 'Bearer', expires_in: access.ttl, scope };
    if (refresh) body.refresh_token = refresh.value;
    return body;
  }
}

/**
 * The row a presented credential names (secrets.secretFor), if it holds the SHA-256 of the whole
 * value (constant-time comparison). Rows are never found by hash: see secretFor.
 */
async function rowFor<T extends { hash: string }>(value: string, id: string | undefined, get: (id: string) => Promise<T | undefined>): Promise<T | undefined> {
  const row = id === undefined ? undefined : await get(id);
  return row && hashesEqual(hashSecret(value), row.hash) ? row : undefined;
}

/** A JWT's jti, read without verifying the JWT: rowFor's hash comparison decides. */
function jtiOf(value: string): string | undefined {
  if (value.split('.').length !== 3) return undefined;
  try {
    const { jti } = decodeJwt(value);
    return typeof jti === 'string' ? jti : undefined;
  } catch {
    return undefined;
  }
}

function auditFields(target: RevocationTarget): Partial<AuditInput> {
  if ('token' in target) return { tokenId: target.token };
  if ('grant' in target) return { grantId: target.grant };
  if ('user' in target) return { userId: target.user };
  if ('client' in target) return { clientId: target.client };
  return {};
}

export function describe(target: RevocationTarget): string {
  if ('family' in target) return `family ${target.family}`;
  const [kind, value] = Object.entries(target)[0] as [string, string | number];
  return kind === 'issuedBefore' ? `issued before ${new Date(value as number).toISOString()}` : `${kind} ${value}`;
}

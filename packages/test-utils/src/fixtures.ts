/**
 * Record builders for the storage suite: valid rows with random ids, overridable field by field.
 * They write nothing; each test stores what it needs through the Store contract.
 */
import { randomBytes } from 'node:crypto';
import type { ClientRecord, CodeRecord, DeviceCodeRecord, GrantRecord, PushedRequestRecord, SessionRecord, TokenRecord, UserRecord } from '@tessera/server';

export const HOUR = 3_600_000;

export const newId = (): string => randomBytes(12).toString('base64url');
/** Stands in for hashSecret(value): stores only ever see the hash. */
export const newHash = (): string => randomBytes(32).toString('base64url');

export function clientRecord(over: Partial<ClientRecord> = {}): ClientRecord {
  return {
    id: newId(),
    name: 'client',
    secretHash: newHash(),
    previousSecretHash: null,
    previousSecretExpiresAt: null,
    authMethod: 'client_secret_basic',
    jwks: null,
    jwksUri: null,
    sealedSecret: null,
    registrationTokenHash: null,
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: ['https://app.example/cb'],
    postLogoutRedirectUris: [],
    scope: 'read write',
    resources: [],
    exchangeAudiences: [],
    tokenFormat: 'opaque',
    idTokenSignedResponseAlg: 'RS256',
    accessTtl: null,
    refreshTtl: null,
    dpopBoundAccessTokens: false,
    createdAt: Date.now(),
    ...over,
  };
}

export function userRecord(over: Partial<UserRecord> = {}): UserRecord {
  const id = newId();
  return { id, username: `user-${id}`, passwordHash: 'scrypt$32768$8$1$c2FsdA$aGFzaA', name: null, email: null, emailVerified: false, createdAt: Date.now(), ...over };
}

export function grantRecord(clientId: string, userId: string | null, over: Partial<GrantRecord> = {}): GrantRecord {
  return { id: newId(), clientId, userId, scope: 'read write', resources: [], createdAt: Date.now(), revokedAt: null, ...over };
}

export function tokenRecord(grant: GrantRecord, over: Partial<TokenRecord> = {}): TokenRecord {
  const issuedAt = over.issuedAt ?? Date.now();
  return {
    id: newId(),
    hash: newHash(),
    kind: 'access',
    format: 'opaque',
    grantId: grant.id,
    familyId: newId(),
    parentId: null,
    clientId: grant.clientId,
    userId: grant.userId,
    scope: grant.scope,
    issuedAt,
    expiresAt: issuedAt + HOUR,
    revokedAt: null,
    consumedAt: null,
    authTime: null,
    dpopJkt: null,
    audience: null,
    act: null,
    exchangedFrom: null,
    ...over,
  };
}

export function codeRecord(grant: GrantRecord, over: Partial<CodeRecord> = {}): CodeRecord {
  const issuedAt = over.issuedAt ?? Date.now();
  return {
    id: newId(),
    hash: newHash(),
    grantId: grant.id,
    clientId: grant.clientId,
    userId: grant.userId ?? 'no-user',
    scope: grant.scope,
    resources: [],
    redirectUri: 'https://app.example/cb',
    codeChallenge: null,
    codeChallengeMethod: null,
    nonce: null,
    authTime: Date.now(),
    issuedAt,
    expiresAt: issuedAt + 60_000,
    redeemedAt: null,
    dpopJkt: null,
    ...over,
  };
}

/** A pending device authorization (RFC 8628) of the client. */
export function deviceCodeRecord(clientId: string, over: Partial<DeviceCodeRecord> = {}): DeviceCodeRecord {
  const issuedAt = over.issuedAt ?? Date.now();
  return {
    id: newId(),
    hash: newHash(),
    userCodeHash: newHash(),
    clientId,
    scope: 'read',
    resources: [],
    issuedAt,
    expiresAt: issuedAt + 600_000,
    interval: 5,
    lastPolledAt: null,
    status: 'pending',
    userId: null,
    grantId: null,
    decidedAt: null,
    ...over,
  };
}

export function sessionRecord(userId: string, over: Partial<SessionRecord> = {}): SessionRecord {
  const createdAt = over.createdAt ?? Date.now();
  return { hash: newHash(), userId, createdAt, expiresAt: createdAt + HOUR, ...over };
}

export function pushedRequestRecord(clientId: string, over: Partial<PushedRequestRecord> = {}): PushedRequestRecord {
  const createdAt = over.createdAt ?? Date.now();
  const params = new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: 'https://app.example/cb', state: newId() });
  return { hash: newHash(), clientId, params: params.toString(), createdAt, expiresAt: createdAt + 60_000, ...over };
}

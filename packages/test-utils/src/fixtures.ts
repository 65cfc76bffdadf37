/**
 * Record builders for the storage suite: valid rows with random ids, overridable field by field.
 * They write nothing; each test stores what it needs through the Store contract.
 */
import { randomBytes } from 'node:crypto';
import type { ClientRecord, CodeRecord, GrantRecord, SessionRecord, TokenRecord, UserRecord } from '@tessera/server';

export const HOUR = 3_600_000;

export const newId = (): string => randomBytes(12).toString('base64url');
/** Stands in for hashSecret(value): stores only ever see the hash. */
const newHash = (): string => randomBytes(32).toString('base64url');

export function clientRecord(over: Partial<ClientRecord> = {}): ClientRecord {
  return {
    id: newId(),
    name: 'client',
    secretHash: newHash(),
    authMethod: 'client_secret_basic',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: ['https://app.example/cb'],
    postLogoutRedirectUris: [],
    scope: 'read write',
    tokenFormat: 'opaque',
    accessTtl: null,
    refreshTtl: null,
    createdAt: Date.now(),
    ...over,
  };
}

export function userRecord(over: Partial<UserRecord> = {}): UserRecord {
  const id = newId();
  return { id, username: `user-${id}`, passwordHash: 'scrypt$32768$8$1$c2FsdA$aGFzaA', name: null, email: null, emailVerified: false, createdAt: Date.now(), ...over };
}

export function grantRecord(clientId: string, userId: string | null, over: Partial<GrantRecord> = {}): GrantRecord {
  return { id: newId(), clientId, userId, scope: 'read write', createdAt: Date.now(), revokedAt: null, ...over };
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
    redirectUri: 'https://app.example/cb',
    codeChallenge: null,
    codeChallengeMethod: null,
    nonce: null,
    authTime: Date.now(),
    issuedAt,
    expiresAt: issuedAt + 60_000,
    redeemedAt: null,
    ...over,
  };
}

export function sessionRecord(userId: string, over: Partial<SessionRecord> = {}): SessionRecord {
  const createdAt = over.createdAt ?? Date.now();
  return { hash: newHash(), userId, createdAt, expiresAt: createdAt + HOUR, ...over };
}

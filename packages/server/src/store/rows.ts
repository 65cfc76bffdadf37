/**
 * Rows as both stores read them (the same snake_case columns) into the contract's records.
 * JSON columns arrive as text from SQLite and already parsed from PostgreSQL (jsonb).
 */
import type {
  AdminTokenRecord, AuditRecord, ClientRecord, CodeRecord, DeviceCodeRecord, FeedEvent, FeedTarget, GrantRecord, KeyRecord, PushedRequestRecord, SessionRecord, TokenRecord,
  UserRecord, WebhookDelivery, WebhookRecord,
} from './types.js';

export type Row = Record<string, unknown>;

/** The changes that name a value (an absent or undefined field changes nothing). */
export const definedOnly = <T extends object>(changes: T): Partial<T> =>
  Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as Partial<T>;

const parsed = <T>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;

export const toClient = (r: Row): ClientRecord => ({
  id: r.id as string,
  name: r.name as string,
  secretHash: r.secret_hash as string | null,
  previousSecretHash: (r.previous_secret_hash as string | null) ?? null,
  previousSecretExpiresAt: (r.previous_secret_expires_at as number | null) ?? null,
  authMethod: r.auth_method as ClientRecord['authMethod'],
  jwks: (r.jwks as string | null) ?? null,
  jwksUri: (r.jwks_uri as string | null) ?? null,
  sealedSecret: (r.sealed_secret as string | null) ?? null,
  registrationTokenHash: (r.registration_token_hash as string | null) ?? null,
  grantTypes: parsed(r.grant_types),
  redirectUris: parsed(r.redirect_uris),
  postLogoutRedirectUris: parsed(r.post_logout_redirect_uris),
  scope: r.scope as string,
  resources: parsed(r.resources),
  exchangeAudiences: parsed(r.exchange_audiences),
  tokenFormat: r.token_format as ClientRecord['tokenFormat'],
  idTokenSignedResponseAlg: r.id_token_signed_response_alg as ClientRecord['idTokenSignedResponseAlg'],
  accessTtl: r.access_ttl as number | null,
  refreshTtl: r.refresh_ttl as number | null,
  // SQLite has no boolean: 0 or 1.
  dpopBoundAccessTokens: Boolean(r.dpop_bound_access_tokens),
  createdAt: r.created_at as number,
});
export const toUser = (r: Row): UserRecord => ({
  id: r.id as string,
  username: r.username as string,
  passwordHash: r.password_hash as string,
  name: r.name as string | null,
  email: r.email as string | null,
  // SQLite has no boolean: 0 or 1.
  emailVerified: Boolean(r.email_verified),
  createdAt: r.created_at as number,
});
export const toGrant = (r: Row): GrantRecord => ({
  id: r.id as string,
  clientId: r.client_id as string,
  userId: r.user_id as string | null,
  scope: r.scope as string,
  resources: parsed(r.resources),
  createdAt: r.created_at as number,
  revokedAt: r.revoked_at as number | null,
});
export const toToken = (r: Row): TokenRecord => ({
  id: r.id as string,
  hash: r.hash as string,
  kind: r.kind as TokenRecord['kind'],
  format: r.format as TokenRecord['format'],
  grantId: r.grant_id as string,
  familyId: r.family_id as string,
  parentId: r.parent_id as string | null,
  clientId: r.client_id as string,
  userId: r.user_id as string | null,
  scope: r.scope as string,
  issuedAt: r.issued_at as number,
  expiresAt: r.expires_at as number,
  revokedAt: r.revoked_at as number | null,
  consumedAt: r.consumed_at as number | null,
  authTime: r.auth_time as number | null,
  dpopJkt: (r.dpop_jkt as string | null) ?? null,
  audience: (r.audience as string | null) ?? null,
  act: (r.act as string | null) ?? null,
  exchangedFrom: (r.exchanged_from as string | null) ?? null,
});
export const toCode = (r: Row): CodeRecord => ({
  id: r.id as string,
  hash: r.hash as string,
  grantId: r.grant_id as string,
  clientId: r.client_id as string,
  userId: r.user_id as string,
  scope: r.scope as string,
  resources: parsed(r.resources),
  redirectUri: r.redirect_uri as string,
  codeChallenge: r.code_challenge as string | null,
  codeChallengeMethod: r.code_challenge_method as CodeRecord['codeChallengeMethod'],
  nonce: r.nonce as string | null,
  authTime: Number(r.auth_time),
  issuedAt: r.issued_at as number,
  expiresAt: r.expires_at as number,
  redeemedAt: r.redeemed_at as number | null,
  dpopJkt: (r.dpop_jkt as string | null) ?? null,
});
export const toDeviceCode = (r: Row): DeviceCodeRecord => ({
  id: r.id as string,
  hash: r.hash as string,
  userCodeHash: r.user_code_hash as string,
  clientId: r.client_id as string,
  scope: r.scope as string,
  resources: parsed(r.resources),
  issuedAt: r.issued_at as number,
  expiresAt: r.expires_at as number,
  interval: r.interval as number,
  lastPolledAt: r.last_polled_at as number | null,
  status: r.status as DeviceCodeRecord['status'],
  userId: r.user_id as string | null,
  grantId: r.grant_id as string | null,
  decidedAt: r.decided_at as number | null,
});
export const toKey = (r: Row): KeyRecord => ({
  kid: r.kid as string,
  alg: r.alg as KeyRecord['alg'],
  privateJwk: r.private_jwk as string,
  publicJwk: r.public_jwk as string,
  createdAt: r.created_at as number,
  retireAt: r.retire_at as number | null,
});
export const toAudit = (r: Row): AuditRecord => ({
  seq: r.seq as number,
  at: r.at as number,
  event: r.event as string,
  actor: r.actor as string,
  clientId: r.client_id as string | null,
  userId: r.user_id as string | null,
  grantId: r.grant_id as string | null,
  tokenId: r.token_id as string | null,
  reason: r.reason as string | null,
  endpoint: r.endpoint as string | null,
  data: r.data === null ? null : JSON.parse(r.data as string),
  // SQLite keeps one chain and no column for it.
  chain: (r.chain as number | undefined) ?? 0,
  prevHash: r.prev_hash as string,
  hash: r.hash as string,
});

export const toFeedEvent = (r: Row): FeedEvent => {
  const kind = r.kind as string;
  const value = r.value as string;
  return {
    seq: r.seq as number,
    at: r.at as number,
    target: (kind === 'issuedBefore' ? { issuedBefore: Number(value) } : { [kind]: value }) as FeedTarget,
    until: r.until as number,
  };
};
export const toSession = (r: Row): SessionRecord => ({
  hash: r.hash as string, userId: r.user_id as string, createdAt: r.created_at as number, expiresAt: r.expires_at as number,
});
export const toPushedRequest = (r: Row): PushedRequestRecord => ({
  hash: r.hash as string, clientId: r.client_id as string, params: r.params as string, createdAt: r.created_at as number, expiresAt: r.expires_at as number,
});

export const toWebhook = (r: Row): WebhookRecord => ({
  id: r.id as string,
  url: r.url as string,
  events: parsed(r.events),
  sealedSecret: r.sealed_secret as string,
  createdAt: Number(r.created_at),
});

/** PostgreSQL's bigint columns arrive as numbers (connection.ts); SQLite's INTEGER too. */
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export const toDelivery = (r: Row): WebhookDelivery => ({
  id: r.id as string,
  webhookId: r.webhook_id as string,
  event: r.event as string,
  at: Number(r.at),
  actor: r.actor as string,
  clientId: (r.client_id as string | null) ?? null,
  userId: (r.user_id as string | null) ?? null,
  grantId: (r.grant_id as string | null) ?? null,
  tokenId: (r.token_id as string | null) ?? null,
  accessTokenId: (r.access_token_id as string | null) ?? null,
  refreshTokenId: (r.refresh_token_id as string | null) ?? null,
  familyId: (r.family_id as string | null) ?? null,
  reason: (r.reason as string | null) ?? null,
  status: r.status as WebhookDelivery['status'],
  attempts: Number(r.attempts),
  nextAttemptAt: Number(r.next_attempt_at),
  lastStatus: num(r.last_status),
  lastError: (r.last_error as string | null) ?? null,
  finishedAt: num(r.finished_at),
});

export const toAdminToken = (r: Row): AdminTokenRecord => ({
  id: r.id as string,
  name: r.name as string,
  hash: r.hash as string,
  // SQLite has no boolean: 0 or 1.
  readOnly: Boolean(r.read_only),
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number | null,
  revokedAt: r.revoked_at as number | null,
});

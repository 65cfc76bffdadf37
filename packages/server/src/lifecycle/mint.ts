/**
 * Token minting: a fresh token's value (shown once) and its record (only the value's hash is
 * stored). The engine returns what it issued (Issued); rfc6749/token-response.ts makes the
 * RFC 6749 §5.1 body of it.
 */
import { hashSecret, randomId, secretFor } from '../secrets.js';
import type { AuditInput, ClientRecord, GrantRecord, TokenRecord, UserRecord } from '../store/types.js';
import { signAccessToken } from '../rfc9068/access-token.js';
import type { Actor, EngineContext } from './context.js';

/** The prefixes of Tessera's opaque credentials (secrets.secretFor). */
export const PREFIX = { access: 'tsa_', refresh: 'tsr_', code: 'tsc_', clientSecret: 'tss_', deviceCode: 'tsd_', initialAccess: 'tsi_', registration: 'tsg_' } as const;

/** A token as issued: its value, given to the client once, and its stored record. */
export interface Minted {
  value: string;
  record: TokenRecord;
}

/** What one issuance produced: an access token, maybe a refresh token. */
export interface Issued {
  access: Minted;
  refresh?: Minted;
  /** The access token's lifetime in seconds (RFC 6749 §5.1 expires_in). */
  expiresIn: number;
}

export const issued = (access: Minted & { ttl: number }, refresh: Minted | undefined): Issued => ({
  access: { value: access.value, record: access.record },
  ...(refresh ? { refresh } : {}),
  expiresIn: access.ttl,
});

/** `family` null: a token of no family (client_credentials, implicit), which is its own. */
export async function mintAccess(
  ctx: EngineContext, client: ClientRecord, grant: GrantRecord, user: UserRecord | null, family: string | null, parentId: string | null, scope: string, now: number,
): Promise<Minted & { ttl: number }> {
  const ttl = client.accessTtl ?? ctx.config.accessTokenTtl;
  const id = randomId();
  const familyId = family ?? id;
  const expiresAt = now + ttl * 1000;
  const value = client.tokenFormat === 'jwt'
    ? await signAccessToken(ctx.keys, {
      issuer: ctx.config.issuer, audience: ctx.config.audience, clientId: client.id, user, id, grantId: grant.id, familyId, scope, issuedAt: now, expiresAt,
    })
    : secretFor(PREFIX.access, id);
  const record: TokenRecord = {
    id, hash: hashSecret(value), kind: 'access', format: client.tokenFormat, grantId: grant.id, familyId, parentId,
    clientId: client.id, userId: user?.id ?? null, scope, issuedAt: now, expiresAt, revokedAt: null, consumedAt: null,
  };
  return { value, record, ttl };
}

export function mintRefresh(
  ctx: EngineContext, client: ClientRecord, grant: GrantRecord, userId: string | null, familyId: string, parentId: string | null, scope: string, now: number,
): Minted {
  const id = randomId();
  const value = secretFor(PREFIX.refresh, id);
  const ttl = client.refreshTtl ?? ctx.config.refreshTokenTtl;
  const record: TokenRecord = {
    id, hash: hashSecret(value), kind: 'refresh', format: 'opaque', grantId: grant.id, familyId, parentId,
    clientId: client.id, userId, scope, issuedAt: now, expiresAt: now + ttl * 1000, revokedAt: null, consumedAt: null,
  };
  return { value, record };
}

export function issuedEvent(t: TokenRecord, by: Actor): AuditInput {
  return {
    event: 'token.issued', ...by, clientId: t.clientId, userId: t.userId, grantId: t.grantId, tokenId: t.id,
    data: { kind: t.kind, format: t.format, family: t.familyId, parent: t.parentId, scope: t.scope, exp: t.expiresAt },
  };
}

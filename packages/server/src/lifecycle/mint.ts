/**
 * Token minting: a fresh token's value (shown once) and its record (only the value's hash is
 * stored). The engine returns what it issued (Issued); rfc6749/token-response.ts makes the
 * RFC 6749 §5.1 body of it.
 */
import { parseScope } from '@tessera/core';
import { hashSecret, randomId, secretFor } from '../secrets.js';
import type { AuditInput, ClientRecord, GrantRecord, TokenRecord, UserRecord } from '../store/types.js';
import { type Act, signAccessToken } from '../rfc9068/access-token.js';
import type { Actor, EngineContext } from './context.js';

/** The prefixes of Tessera's opaque credentials (secrets.secretFor). */
export const PREFIX = { access: 'tsa_', refresh: 'tsr_', code: 'tsc_', clientSecret: 'tss_', deviceCode: 'tsd_', initialAccess: 'tsi_', registration: 'tsg_', admin: 'tsadm_' } as const;

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
  /**
   * An OpenID Connect issuance (the access token's scope has `openid`, from a user's authorization):
   * what the id_token says of the user's sign-in (oidc/id-token.ts makes it).
   */
  authentication?: Authentication;
  /** A token exchange's answer (RFC 8693 §2.2.1 issued_token_type): the type of `access`. */
  issuedTokenType?: string;
}

/** Who signed in and how, for the id_token (OpenID Connect Core §2). */
export interface Authentication {
  userId: string;
  /**
   * When the user signed in; on a refresh, that original sign-in's time (Core §12.2: auth_time MUST
   * be the original authentication's). Null when not known: the id_token omits auth_time.
   */
  authTime: number | null;
  /**
   * The authorization request's nonce; null on a refresh (Core §12.2: a refreshed ID Token SHOULD
   * NOT have a nonce, even when the original one had).
   */
  nonce: string | null;
}

/** Whether a scope string holds `openid`: an OpenID Connect request (Core §3.1.2.1). */
export const isOpenId = (scope: string): boolean => scope.split(' ').includes('openid');

export const issued = (access: Minted & { ttl: number }, refresh: Minted | undefined): Issued => ({
  access: { value: access.value, record: access.record },
  ...(refresh ? { refresh } : {}),
  expiresIn: access.ttl,
});

/**
 * Where an access token goes and on whose behalf, beyond its grant: the resource it is for
 * (RFC 8707; none: config.audience), for a token exchange (RFC 8693) the actor (§4.1 act) and
 * the subject token it was exchanged from, and the DPoP key (RFC 9449) it is bound to, from the
 * token request's proof (none: a bearer token).
 */
export interface AccessTarget {
  audience?: string | null;
  act?: Act | null;
  exchangedFrom?: string | null;
  /** The latest the token may expire (ms): an exchanged token never outlives its subject token. */
  notAfter?: number;
  jkt?: string | null;
}

/** `family` null: a token of no family (client_credentials, implicit), which is its own. */
export async function mintAccess(
  ctx: EngineContext, client: ClientRecord, grant: GrantRecord, user: UserRecord | null, family: string | null, parentId: string | null, scope: string, now: number,
  target: AccessTarget = {},
): Promise<Minted & { ttl: number }> {
  const own = now + (client.accessTtl ?? ctx.config.accessTokenTtl) * 1000;
  const expiresAt = target.notAfter === undefined ? own : Math.min(own, target.notAfter);
  const ttl = Math.floor((expiresAt - now) / 1000);
  const id = randomId();
  const familyId = family ?? id;
  const audience = target.audience ?? null;
  const act = target.act ?? null;
  const jkt = target.jkt ?? null;
  const value = client.tokenFormat === 'jwt'
    ? await signAccessToken(ctx.keys, ctx.config.accessTokenAlg, {
      issuer: ctx.config.issuer, audience: audience ?? ctx.config.audience, clientId: client.id, subjectClientId: grant.clientId, user, id, grantId: grant.id, familyId,
      scope, issuedAt: now, expiresAt, act, jkt,
    })
    : secretFor(PREFIX.access, id);
  const record: TokenRecord = {
    id, hash: hashSecret(value), kind: 'access', format: client.tokenFormat, grantId: grant.id, familyId, parentId,
    clientId: client.id, userId: user?.id ?? null, scope, issuedAt: now, expiresAt, revokedAt: null, consumedAt: null, authTime: null,
    audience, act: act === null ? null : JSON.stringify(act), exchangedFrom: target.exchangedFrom ?? null, dpopJkt: jkt,
  };
  return { value, record, ttl };
}

/**
 * RFC 9449 §5: a refresh token issued to a public client with a DPoP proof is bound to the proof's
 * key; a confidential client's is not (it authenticates), whatever key its access tokens use.
 */
export const refreshBinding = (client: ClientRecord, jkt: string | null): string | null => (client.authMethod === 'none' ? jkt : null);

/**
 * `authTime`: when the user signed in, if the token descends from a sign-in (TokenRecord.authTime);
 * `jkt`: the DPoP key the refresh token is bound to (refreshBinding), null for none.
 */
export function mintRefresh(
  ctx: EngineContext, client: ClientRecord, grant: GrantRecord, userId: string | null, familyId: string, parentId: string | null, scope: string, now: number,
  authTime: number | null, jkt: string | null = null,
): Minted {
  const id = randomId();
  const value = secretFor(PREFIX.refresh, id);
  const ttl = client.refreshTtl ?? ctx.config.refreshTokenTtl;
  const record: TokenRecord = {
    id, hash: hashSecret(value), kind: 'refresh', format: 'opaque', grantId: grant.id, familyId, parentId,
    clientId: client.id, userId, scope, issuedAt: now, expiresAt: now + ttl * 1000, revokedAt: null, consumedAt: null, authTime,
    audience: null, act: null, exchangedFrom: null, dpopJkt: jkt,
  };
  return { value, record };
}

/**
 * The tokens a user's one-time authorization (a code, a device code) is redeemed for, one family
 * named by `family`: an access token, and a refresh token when the client may refresh (mayRefresh),
 * which keeps `authTime` (when the user signed in; null: not known); `event` is the redemption's
 * own audit record, before the tokens'. `jkt`: the token request's DPoP key (RFC 9449), or null;
 * `audience`: the resource the access token is for (RFC 8707).
 */
export async function mintForUser(
  ctx: EngineContext, client: ClientRecord, grant: GrantRecord, user: UserRecord, family: string, scope: string, now: number, authTime: number | null,
  event: AuditInput, by: Actor, jkt: string | null = null, audience: string | null = null,
): Promise<{ access: Minted & { ttl: number }; refresh: Minted | undefined; records: TokenRecord[]; audit: AuditInput[] }> {
  const access = await mintAccess(ctx, client, grant, user, family, null, scope, now, { audience, jkt });
  const refresh = mayRefresh(client, scope) ? mintRefresh(ctx, client, grant, user.id, family, null, scope, now, authTime, refreshBinding(client, jkt)) : undefined;
  const records = refresh ? [access.record, refresh.record] : [access.record];
  return { access, refresh, records, audit: [event, ...records.map((r) => issuedEvent(r, by))] };
}

/**
 * Whether a user's authorization gets a refresh token: the client must be registered for the
 * grant; and for an OpenID Connect request (scope `openid`), OpenID Connect Core §11 makes refresh
 * tokens offline access, issued only when `offline_access` was requested and consented to (the
 * consent page lists it). Requests without `openid` are plain OAuth and keep the client's rule.
 */
function mayRefresh(client: ClientRecord, scope: string): boolean {
  if (!client.grantTypes.includes('refresh_token')) return false;
  const scopes = parseScope(scope);
  return !scopes.has('openid') || scopes.has('offline_access');
}

/** `data` (what the caller put first) completed with what an audit record says of a token it issued: never its value, only its terms. */
function issuedData(t: TokenRecord, data: Record<string, unknown>): Record<string, unknown> {
  data.scope = t.scope;
  data.exp = t.expiresAt;
  if (t.audience !== null) data.aud = t.audience;
  // A DPoP-bound token names its key by thumbprint (a public key's: no secret in it).
  if (t.dpopJkt !== null) data.jkt = t.dpopJkt;
  return data;
}

export function issuedEvent(t: TokenRecord, by: Actor): AuditInput {
  const data = issuedData(t, { kind: t.kind, format: t.format, family: t.familyId, parent: t.parentId });
  return { event: 'token.issued', ...by, clientId: t.clientId, userId: t.userId, grantId: t.grantId, tokenId: t.id, data };
}

/**
 * A refresh rotation's one audit record (issue 14): the token consumed (`tokenId`) and the pair
 * issued in its place, each by id with its terms. One record, not three: the pair's own
 * token.issued records would repeat the family, parent, client and grant this one names.
 */
export function rotatedEvent(old: TokenRecord, access: TokenRecord, refresh: TokenRecord, inGrace: boolean, by: Actor): AuditInput {
  return {
    event: inGrace ? 'token.rotated_in_grace' : 'token.rotated', ...by, clientId: old.clientId, userId: old.userId, grantId: old.grantId, tokenId: old.id,
    data: { family: old.familyId, access: issuedData(access, { id: access.id, format: access.format }), refresh: issuedData(refresh, { id: refresh.id, format: refresh.format }) },
  };
}

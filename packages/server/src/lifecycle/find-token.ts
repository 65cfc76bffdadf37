/** Finding the row a presented credential names: by the id it carries, then its hash compared in constant time. */
import { decodeJwt } from 'jose';
import { hashesEqual, hashSecret, idInSecret } from '../secrets.js';
import type { TokenRecord } from '../store/types.js';
import type { EngineContext } from './context.js';

/** The token a presented value is, found by the id it carries: an opaque token's own, a JWT's jti. */
export function findToken(ctx: EngineContext, value: string): Promise<TokenRecord | undefined> {
  return rowFor(value, idInSecret(value) ?? jtiOf(value), (id) => ctx.store.getToken(id));
}

/** The token's record if it is active now (not expired, revoked, or consumed). */
export async function activeToken(ctx: EngineContext, value: string): Promise<TokenRecord | undefined> {
  const token = await findToken(ctx, value);
  if (!token || token.revokedAt !== null || token.consumedAt !== null || token.expiresAt <= ctx.now()) return undefined;
  return token;
}

/**
 * Whom the token is about (its `sub`): its user, else the client whose grant it is on. That is
 * the client it was issued to, but for a token exchanged from a client's own token (RFC 8693),
 * which is about the subject token's client, not the one that exchanged it.
 */
export async function subjectOf(ctx: EngineContext, token: TokenRecord): Promise<string> {
  if (token.userId !== null) return token.userId;
  if (token.exchangedFrom === null) return token.clientId;
  return (await ctx.store.getGrant(token.grantId))?.clientId ?? token.clientId;
}

/**
 * The row a presented credential names (secrets.secretFor), if it holds the SHA-256 of the whole
 * value (constant-time comparison). Rows are never found by hash: see secretFor.
 */
export async function rowFor<T extends { hash: string }>(
  value: string, id: string | undefined, get: (id: string) => Promise<T | undefined>,
): Promise<T | undefined> {
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

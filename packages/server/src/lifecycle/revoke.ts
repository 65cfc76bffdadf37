/**
 * Revocation: what a target covers is revoked atomically with its audit record, then subscribers
 * (the feed fan-out) are told. Which target a presented token stands for (RFC 7009 §2.1) is
 * decided once, here, for the /revoke endpoint and `tessera token revoke`.
 */
import { OAuthError } from '@tessera/core';
import type { AuditInput, ClientRecord, RevocationResult, RevocationTarget, TokenRecord } from '../store/types.js';
import type { Actor, AuditSubject, EngineContext } from './context.js';
import { findToken } from './find-token.js';

/**
 * RFC 7009 §2.1: what revoking this token revokes. A refresh token takes its grant with it (every
 * access token issued on it); an access token goes alone.
 */
export function revocationTarget(token: TokenRecord): RevocationTarget {
  return token.kind === 'refresh' ? { grant: token.grantId } : { token: token.id };
}

/**
 * Revokes what the target covers, atomically, with an audit record; then tells subscribers.
 * `subject` names the client, user and grant concerned (default: those of `first`), so the
 * record is found by client or user even when the target is a token or a family.
 */
export async function revoke(
  ctx: EngineContext, target: RevocationTarget, by: Actor, first?: AuditInput, subject: AuditSubject = first ?? {},
): Promise<RevocationResult> {
  const at = ctx.now();
  // A cutoff in the future would revoke only the tokens issued so far, while guards applying the
  // feed event refuse every token issued before the cutoff, later ones included: refuse it.
  if ('issuedBefore' in target && !(target.issuedBefore <= at)) {
    throw new RangeError(`issuedBefore ${new Date(target.issuedBefore).toISOString()} is in the future`);
  }
  const reason = by.reason ?? 'revoked';
  const { clientId, userId, grantId } = subject;
  const audit: AuditInput[] = [
    ...(first ? [first] : []),
    {
      event: 'token.revoked', ...by, reason, clientId, userId, grantId, ...auditFields(target),
      data: { target: describe(target), ...('family' in target ? { family: target.family } : {}) },
    },
  ];
  const result = await ctx.store.revoke(target, at, audit);
  ctx.emitRevoked(target, result, at, reason);
  return result;
}

/** RFC 7009 §2.1: a client revokes one of its own tokens (revocationTarget says what that covers). */
export async function revokeByValue(ctx: EngineContext, client: ClientRecord, value: string, by: Actor): Promise<void> {
  const token = await findToken(ctx, value);
  // RFC 7009 §2.2: an invalid or unknown token still gets 200.
  if (!token) return;
  if (token.clientId !== client.id) throw new OAuthError('invalid_request', 'token was not issued to this client');
  if (token.revokedAt !== null) return;
  await revoke(ctx, revocationTarget(token), by, undefined, token);
}

function auditFields(target: RevocationTarget): Partial<AuditInput> {
  if ('token' in target) return { tokenId: target.token };
  if ('grant' in target) return { grantId: target.grant };
  if ('user' in target) return { userId: target.user };
  if ('client' in target) return { clientId: target.client };
  return {};
}

/** The target in words, for audit records and the CLI: `grant G`, `family F`, `issued before T`. */
export function describe(target: RevocationTarget): string {
  if ('family' in target) return `family ${target.family}`;
  const [kind, value] = Object.entries(target)[0] as [string, string | number];
  return kind === 'issuedBefore' ? `issued before ${new Date(value as number).toISOString()}` : `${kind} ${value}`;
}

/**
 * Lifecycle webhooks: which audit events a subscription may receive, the JSON body a delivery
 * sends, and its signature (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { AuditInput, WebhookDelivery } from '../store/types.js';

/** The events a subscription may name: audit event names (README, "Lifecycle webhooks"). */
export const WEBHOOK_EVENTS = [
  'token.issued',
  'token.rotated',
  'token.rotated_in_grace',
  'token.revoked',
  'token.reuse_detected',
  'token.exchanged',
  'grant.created',
  'grant.widened',
  'client.created',
  'client.updated',
  'client.secret_rotated',
  'client.deleted',
  'user.created',
  'user.updated',
  'user.password_changed',
  'user.deleted',
] as const;

/**
 * The events `patterns` name: each an event, `group.*` (every event of the group) or `*` (every
 * one). Expanded when the subscription is made, so a store matches names only. Throws a message
 * naming the first pattern that names nothing.
 */
export function expandEvents(patterns: readonly string[]): string[] {
  const out = new Set<string>();
  for (const pattern of patterns) {
    const matched = WEBHOOK_EVENTS.filter((e) => pattern === '*' || e === pattern || (pattern.endsWith('.*') && e.startsWith(pattern.slice(0, -1))));
    if (matched.length === 0) throw new Error(`unknown event '${pattern}'; expected *, token.*, grant.*, client.*, user.* or one of ${WEBHOOK_EVENTS.join(', ')}`);
    for (const e of matched) out.add(e);
  }
  return WEBHOOK_EVENTS.filter((e) => out.has(e));
}

/** The family a record names (token.issued, token.rotated, token.reuse_detected, a family's token.revoked), if any. */
export const familyOf = (audit: AuditInput): string | null => (typeof audit.data?.family === 'string' ? audit.data.family : null);

/** A refresh rotation's new pair (its record's data names them, lifecycle/mint.ts rotatedEvent): [access, refresh] token ids, else nulls. */
export function rotatedPairOf(audit: AuditInput): [string | null, string | null] {
  const id = (t: unknown) => (typeof t === 'object' && t !== null && typeof (t as { id?: unknown }).id === 'string' ? (t as { id: string }).id : null);
  return [id(audit.data?.access), id(audit.data?.refresh)];
}

/**
 * The body of a delivery: `{type, timestamp, data}` as Standard Webhooks lays it out. Only ids,
 * the actor and the reason: never a token, code, hash or secret. Built from the stored row, so
 * every attempt sends the same bytes.
 */
export function webhookBody(d: WebhookDelivery): string {
  const data: Record<string, string> = { id: d.id, actor: d.actor };
  const ids = {
    client_id: d.clientId, user_id: d.userId, grant_id: d.grantId, token_id: d.tokenId, family_id: d.familyId,
    access_token_id: d.accessTokenId, refresh_token_id: d.refreshTokenId, reason: d.reason,
  };
  for (const [key, value] of Object.entries(ids)) if (value !== null) data[key] = value;
  return JSON.stringify({ type: d.event, timestamp: new Date(d.at).toISOString(), data });
}

/** A new signing secret: `whsec_` and 32 random bytes, base64 (the Standard Webhooks form). */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** The `webhook-signature` header: v1, then the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret's bytes. */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

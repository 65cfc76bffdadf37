/**
 * Dynamic client registration (RFC 7591) and its management (RFC 7592): initial access tokens
 * that gate /register, and the registration access token each registered client gets. Both are
 * shown once and stored as SHA-256 hashes (secrets.ts).
 */
import { hashesEqual, hashSecret, randomSecret } from '../secrets.js';
import type { ClientRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { PREFIX } from './mint.js';
import { createClient, type NewClient } from './principals.js';

/** `tessera client initial-token`: a one-time token that lets one client register, valid for `expiresIn` seconds. */
export async function mintInitialAccessToken(ctx: EngineContext, expiresIn: number, by: Actor): Promise<{ value: string; expiresAt: number }> {
  const value = randomSecret(PREFIX.initialAccess);
  const createdAt = ctx.now();
  const expiresAt = createdAt + expiresIn * 1000;
  await ctx.store.createInitialAccessToken({ hash: hashSecret(value), createdAt, expiresAt }, [
    { event: 'registration.initial_token_created', ...by, data: { expires_at: expiresAt } },
  ]);
  return { value, expiresAt };
}

/** Spends an initial access token (one-time, RFC 7591 §3); false if it is unknown, expired or already used. */
export function consumeInitialAccessToken(ctx: EngineContext, value: string, by: Actor): Promise<boolean> {
  return ctx.store.consumeInitialAccessToken(hashSecret(value), ctx.now(), [{ event: 'registration.initial_token_used', ...by }]);
}

/** RFC 7591 §3.2.1: a client registered with a registration access token (RFC 7592 §3), both shown once. */
export async function registerClient(ctx: EngineContext, input: NewClient, by: Actor): Promise<{ client: ClientRecord; secret?: string; registrationToken: string }> {
  const registrationToken = randomSecret(PREFIX.registration);
  const made = await createClient(ctx, { ...input, registrationTokenHash: hashSecret(registrationToken) }, by);
  return { ...made, registrationToken };
}

/** RFC 7592 §3: the token matches the client's registration access token (constant time); clients made by the CLI have none. */
export function registrationTokenMatches(client: ClientRecord, value: string): boolean {
  if (client.registrationTokenHash === null) return false;
  return hashesEqual(hashSecret(value), client.registrationTokenHash);
}

/**
 * Pushed authorization requests (RFC 9126): a client's authorization request, stored at its
 * push, referenced by a random value that only the client (and the browser it sends) learns; the
 * store keeps its hash. rfc9126/ wraps the value into the request_uri.
 */
import { hashSecret, randomSecret } from '../secrets.js';
import type { ClientRecord, PushedRequestRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { asChecked, credentialChanged } from './credentials.js';

/** Stores the request's parameters for config.parTtl seconds; the reference value, returned once. */
export async function pushRequest(ctx: EngineContext, client: ClientRecord, params: URLSearchParams, by: Actor): Promise<string> {
  const value = randomSecret();
  const now = ctx.now();
  const record: PushedRequestRecord = {
    hash: hashSecret(value), clientId: client.id, params: params.toString(), createdAt: now, expiresAt: now + ctx.config.parTtl * 1000,
  };
  const checked = asChecked(client);
  // The client's secret changed since it authenticated: the push fails as a wrong secret would.
  if ((await ctx.store.createPushedRequest(record, [{ event: 'request.pushed', ...by, clientId: client.id }], checked)) === 'credential-changed') {
    throw credentialChanged(checked);
  }
  return value;
}

/** The request pushed by `clientId` under `value`, if it is stored and has not expired. */
export async function pushedRequest(ctx: EngineContext, clientId: string, value: string): Promise<PushedRequestRecord | undefined> {
  const pushed = await ctx.store.getPushedRequest(hashSecret(value), ctx.now());
  return pushed?.clientId === clientId ? pushed : undefined;
}

/** Uses up the pushed request: true for the one caller that does (RFC 9126 §4, one-time use). */
export function consumePushedRequest(ctx: EngineContext, value: string): Promise<boolean> {
  return ctx.store.consumePushedRequest(hashSecret(value), ctx.now());
}

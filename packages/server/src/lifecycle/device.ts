/**
 * The device authorization grant (RFC 8628), the device's side: a device authorization starts
 * with a device code (for the client, high-entropy, stored hashed) and a user code (for the
 * person, short, stored hashed); the client then polls the token endpoint until the user decided
 * (device-verification.ts) and, once approved, redeems the device code for tokens exactly once.
 */
import { OAuthError } from '@tessera/core';
import { hashSecret, idInSecret, randomId, randomUserCode, secretFor, USER_CODE_ALPHABET, USER_CODE_LENGTH } from '../secrets.js';
import type { ClientRecord, DeviceCodeRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { asChecked, credentialChanged, grantRevoked } from './credentials.js';
import { rowFor } from './find-token.js';
import { type Issued, issued, mintForUser, PREFIX } from './mint.js';

/** What a device authorization response carries (RFC 8628 §3.2), before it is made into JSON. */
export interface DeviceAuthorization {
  deviceCode: string;
  /** As shown to people: XXXX-XXXX. */
  userCode: string;
  expiresIn: number;
  interval: number;
}

/** RFC 8628 §3.5: each slow_down adds 5 seconds to the interval, for that and every later poll. */
const SLOW_DOWN_SECONDS = 5;
/** User codes drawn again when one is taken (20^8 codes: a second draw practically never happens). */
const USER_CODE_ATTEMPTS = 5;
/** Polls that lost a compare-and-set to a concurrent poll of the same code and try again. */
const POLL_ATTEMPTS = 3;

/** XXXX-XXXX, as RFC 8628 §6.1 suggests, for reading aloud and typing. */
export const displayUserCode = (code: string): string => `${code.slice(0, 4)}-${code.slice(4)}`;

/**
 * RFC 8628 §6.1: what a person typed, normalised (case, dashes, spaces and other separators
 * dropped); undefined if it cannot be a user code, so nothing is looked up.
 */
export function normalizeUserCode(typed: string): string | undefined {
  if (typed.length > 64) return undefined;
  const code = typed.toUpperCase().replace(/[\s\-_.]/g, '');
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return code;
}

/** RFC 8628 §3.1–3.2: a new device authorization for `client`, living config.deviceCodeTtl seconds. */
export async function startDeviceAuthorization(
  ctx: EngineContext, client: ClientRecord, scope: string, by: Actor, resources: string[] = [],
): Promise<DeviceAuthorization> {
  const { deviceCodeTtl, deviceCodeInterval } = ctx.config;
  for (let attempt = 0; attempt < USER_CODE_ATTEMPTS; attempt++) {
    const id = randomId();
    const deviceCode = secretFor(PREFIX.deviceCode, id);
    const userCode = randomUserCode();
    const now = ctx.now();
    const record: DeviceCodeRecord = {
      id, hash: hashSecret(deviceCode), userCodeHash: hashSecret(userCode), clientId: client.id, scope, resources,
      issuedAt: now, expiresAt: now + deviceCodeTtl * 1000, interval: deviceCodeInterval, lastPolledAt: null,
      status: 'pending', userId: null, grantId: null, decidedAt: null,
    };
    // No code value in the audit record: the row's id names it.
    const data = { scope, ...(resources.length === 0 ? {} : { resources }) };
    const created = await ctx.store.createDeviceCode(record, [{ event: 'device.authorization_started', ...by, clientId: client.id, tokenId: id, data }]);
    if (created === 'created') return { deviceCode, userCode: displayUserCode(userCode), expiresIn: deviceCodeTtl, interval: deviceCodeInterval };
  }
  throw new OAuthError('temporarily_unavailable', 'no free user code; try again');
}

/**
 * RFC 8628 §3.4–3.5: a poll of the token endpoint with a device code. Tokens once the user
 * approved (on their grant, as the code flow issues them); otherwise the error that says why not.
 */
export async function pollDeviceCode(ctx: EngineContext, client: ClientRecord, value: string, by: Actor, jkt: string | null = null, resource?: string): Promise<Issued> {
  for (let attempt = 0; attempt < POLL_ATTEMPTS; attempt++) {
    const code = await rowFor(value, idInSecret(value), (id) => ctx.store.getDeviceCode(id));
    // RFC 8628 §3.4: the device code must have been issued to this client.
    if (!code || code.clientId !== client.id) throw new OAuthError('invalid_grant', 'device_code is invalid');
    // Redeemed once: a second redemption is refused, never answered with tokens again.
    if (code.status === 'redeemed') throw new OAuthError('invalid_grant', 'device_code was already used');
    const now = ctx.now();
    if (code.expiresAt <= now) throw new OAuthError('expired_token', 'the device_code has expired; start a new device authorization');
    // RFC 8628 §3.5: access_denied at the token endpoint is a §5.2 error response (400).
    if (code.status === 'denied') throw new OAuthError('access_denied', 'the user denied the authorization request', { status: 400 });
    if (code.status === 'approved') return redeem(ctx, client, code, by, jkt, resource);
    // RFC 8628 §3.5: polling faster than the interval gets slow_down, and the interval MUST grow by 5 s.
    const tooFast = code.lastPolledAt !== null && now < code.lastPolledAt + code.interval * 1000;
    const interval = tooFast ? code.interval + SLOW_DOWN_SECONDS : code.interval;
    // Compare-and-set: of two polls racing, one records itself; the other reads again and is too fast.
    if (!(await ctx.store.recordDevicePoll(code.id, code.lastPolledAt, now, interval))) continue;
    if (tooFast) throw new OAuthError('slow_down', `polling too fast: wait ${interval} s between requests`);
    throw new OAuthError('authorization_pending', 'the user has not yet approved or denied the request');
  }
  throw new OAuthError('slow_down', 'polling too fast');
}

/** The approved device code for tokens on the user's grant (as codes.ts redeems a code): once, across processes. */
async function redeem(ctx: EngineContext, client: ClientRecord, code: DeviceCodeRecord, by: Actor, jkt: string | null, resource: string | undefined): Promise<Issued> {
  // RFC 8707 §2.2: the token request may narrow to a resource the device authorization request named, never another.
  if (resource !== undefined && !code.resources.includes(resource)) {
    throw new OAuthError('invalid_target', 'the resource was not named in the device authorization request');
  }
  const [grant, user] = await Promise.all([ctx.store.getGrant(code.grantId ?? ''), ctx.store.getUser(code.userId ?? '')]);
  if (!grant || grant.revokedAt !== null || !user) throw grantRevoked();
  const now = ctx.now();
  // One family per device authorization, named by its row, as a code's tokens are named by the code.
  // No sign-in time is kept for a device authorization (its redemption issues no id_token).
  const { access, refresh, records, audit } = await mintForUser(ctx, client, grant, user, code.id, code.scope, now, null,
    { event: 'device.redeemed', ...by, clientId: client.id, userId: user.id, grantId: grant.id, tokenId: code.id }, by, jkt, resource ?? null);
  const checked = asChecked(client);
  const claim = await ctx.store.redeemDeviceCode(code.id, now, records, audit, checked);
  if (claim === 'credential-changed') throw credentialChanged(checked);
  if (claim === 'grant-revoked') throw grantRevoked();
  if (claim === 'already-used') throw new OAuthError('invalid_grant', 'device_code was already used');
  return issued(access, refresh);
}

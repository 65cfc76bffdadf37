/**
 * The device authorization grant (RFC 8628), the user's side: a signed-in user types the user
 * code shown by the device, then approves or denies. User codes are short (RFC 8628 §5.1: about
 * 34 bits), so guessing is throttled before any lookup by the sign-in throttle's mechanism
 * (sign-in-throttle.ts), in an instance of its own: failed entries count per signed-in user,
 * per user × client address and per address, with the sign-in settings' free failures and
 * back-off. A code that is not pending (decided, expired, unknown) counts as a failure, and each
 * failure is audited (`device.user_code_failed`: the user, the address and the counts, never what
 * was typed), as failed sign-ins are.
 */
import { parseScope } from '@tessera/core';
import { hashSecret } from '../secrets.js';
import type { ClientRecord, DeviceCodeRecord, SessionRecord, UserRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { SessionEnded, throughSession } from './credentials.js';
import { normalizeUserCode } from './device.js';
import { consentGrant, GRANT_CONFLICT, withGrant } from './grants.js';
import { slowDown } from './sign-in.js';
import { addressKey, type Throttle } from './sign-in-throttle.js';

/** A pending device authorization found by its user code, with the client that asked. */
export interface DeviceRequest {
  code: DeviceCodeRecord;
  client: ClientRecord;
}

export class DeviceVerification {
  constructor(private readonly ctx: EngineContext, private readonly throttle: Throttle) {}

  /**
   * The pending, unexpired device authorization whose user code `typed` is (after RFC 8628 §6.1
   * normalisation), entered by `user` from `address`; undefined if none. Throws 429 `slow_down`
   * while this user or address is backing off from failed entries (RFC 8628 §5.1).
   */
  async find(typed: string, user: UserRecord, address: string | undefined, endpoint: string): Promise<DeviceRequest | undefined> {
    const key = addressKey(address);
    const begun = await this.throttle.begin(`user:${user.id}`, key);
    if ('wait' in begun) throw slowDown(begun.wait, 'too many wrong codes');
    let found: DeviceRequest | undefined;
    try {
      const code = normalizeUserCode(typed);
      const record = code === undefined ? undefined : await this.ctx.store.findDeviceCodeByUserCode(hashSecret(code));
      const client = record && record.status === 'pending' && record.expiresAt > this.ctx.now() ? await this.ctx.store.getClient(record.clientId) : undefined;
      found = record && client ? { code: record, client } : undefined;
    } catch (err) {
      this.throttle.cancel(begun.attempt);
      throw err;
    }
    // RFC 8628 §5.1: only wrong codes count. A right one is no success to reward, as a password is
    // (which only its owner has): anyone can start a device authorization and enter its pending
    // code between guesses, so it wipes out no failures and makes no address known.
    if (found) {
      this.throttle.cancel(begun.attempt);
      return found;
    }
    const { failures, refused } = await this.throttle.end(begun.attempt, false);
    await this.ctx.store.appendAudit([{
      event: 'device.user_code_failed', actor: `user:${user.id}`, endpoint, userId: user.id, reason: 'no pending device authorization has this code',
      data: { address: key, failures, refused_since_last: refused },
    }]);
    return undefined;
  }
}

/**
 * Records the user's answer to a device authorization, in the audit log with it. Approval is
 * consent too: the grant created or widened (as the authorization endpoint's consent does) is
 * stored in the approval's own transaction, so there is never consent without the approval, nor
 * the other way round. Returns false, storing nothing, if the code was decided meanwhile or
 * expired; throws SessionEnded, storing nothing, if the session ended.
 */
export async function decideDevice(
  ctx: EngineContext, request: DeviceRequest, user: UserRecord, session: SessionRecord, approve: boolean, by: Actor,
): Promise<boolean> {
  const { code, client } = request;
  const decided = approve
    ? await approveWithConsent(ctx, request, user, session, by)
    : await ctx.store.decideDeviceCode(code.id, { deny: { userId: user.id } }, ctx.now(), [
      { event: 'device.denied', ...by, clientId: client.id, userId: user.id, tokenId: code.id },
    ], throughSession(user, session));
  if (decided === 'credential-changed') throw new SessionEnded();
  return decided === 'decided';
}

/** The approval and the consent it gives (the grant created or widened), in one write. */
function approveWithConsent(ctx: EngineContext, { code, client }: DeviceRequest, user: UserRecord, session: SessionRecord, by: Actor) {
  return withGrant(ctx, client.id, user.id, async (existing) => {
    const { grant, audit } = consentGrant(ctx, client, user, parseScope(code.scope), existing, by, code.resources);
    const outcome = await ctx.store.decideDeviceCode(code.id, { approve: { userId: user.id, grant } }, ctx.now(), [
      audit,
      { event: 'device.approved', ...by, clientId: client.id, userId: user.id, grantId: grant.id, tokenId: code.id, data: { scope: code.scope } },
    ], throughSession(user, session));
    // Another live grant of the pair won, or the one read was revoked since: look again.
    return outcome === 'conflict' || outcome === 'grant-revoked' ? GRANT_CONFLICT : outcome;
  });
}

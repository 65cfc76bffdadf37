/**
 * POST /revocations: revoke by token id, grant, user, client or issued-before, with a reason kept
 * in the audit record, through the engine's revoke (atomic, audited, pushed to the revocation
 * feed and so to the guards). A refresh token takes its grant with it, as RFC 7009 §2.1 has it
 * (and `tessera token revoke`).
 */
import { z } from 'zod';
import { describe, revocationTarget } from '../../lifecycle/engine.js';
import type { AuditSubject } from '../../lifecycle/context.js';
import type { RevocationTarget } from '../../store/types.js';
import { Problem } from '../problem.js';
import { route } from '../route.js';
import { printable, revoked } from '../schemas.js';

const body = z.strictObject({
  type: z.enum(['token', 'grant', 'user', 'client', 'issued_before']),
  value: z.string().min(1).max(128).describe('a token id, grant id, user id or client id; for issued_before an ISO 8601 time, not in the future'),
  reason: printable.max(500).optional().describe('kept in the audit record (default "revoked by an administrator")'),
});

export const revocationRoutes = [
  route({
    method: 'POST', path: '/revocations', tag: 'revocations', status: 200, body,
    summary: 'revoke tokens, atomically, audited with the reason, and announced on the revocation feed at once',
    response: revoked.extend({ target: z.string() }),
    async handle({ body, by, tessera }) {
      const { store } = tessera;
      const missing = () => new Problem(404, `no ${body.type} with id '${body.value}'`);
      let target: RevocationTarget;
      // The audit record names the client, user and grant concerned, so /audit?user_id=… finds it.
      let subject: AuditSubject = {};
      if (body.type === 'token') {
        const token = await store.getToken(body.value);
        if (!token) throw missing();
        target = revocationTarget(token);
        subject = { clientId: token.clientId, userId: token.userId, grantId: token.grantId };
      } else if (body.type === 'grant') {
        const grant = await store.getGrant(body.value);
        if (!grant) throw missing();
        target = { grant: body.value };
        subject = { clientId: grant.clientId, userId: grant.userId, grantId: grant.id };
      } else if (body.type === 'user') {
        if (!(await store.getUser(body.value))) throw missing();
        target = { user: body.value };
        subject = { userId: body.value };
      } else if (body.type === 'client') {
        if (!(await store.getClient(body.value))) throw missing();
        target = { client: body.value };
        subject = { clientId: body.value };
      } else {
        const at = z.iso.datetime({ offset: true }).safeParse(body.value);
        if (!at.success) throw new Problem(400, 'issued_before takes an ISO 8601 time such as 2026-01-31T12:00:00Z', [{ pointer: '/body/value', detail: 'not an ISO 8601 time' }]);
        const ms = Date.parse(at.data);
        // A future cutoff: guards would refuse tokens issued later that the server never revoked.
        if (ms > Date.now()) throw new Problem(422, 'issued_before is in the future: give a time up to now', [{ pointer: '/body/value', detail: 'in the future' }]);
        target = { issuedBefore: ms };
      }
      const result = await tessera.engine.revoke(target, { ...by, reason: body.reason ?? 'revoked by an administrator' }, undefined, subject);
      return { target: describe(target), revoked_tokens: result.tokens, revoked_grants: result.grants };
    },
  }),
];

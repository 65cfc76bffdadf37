/**
 * Token introspection (RFC 7662). The caller must authenticate (§2.1). A client sees its own
 * tokens; a client registered with the `tessera:introspect` scope (a resource server) sees any.
 * Everything else — expired, revoked, consumed, unknown, someone else's — is just
 * {"active": false} (§2.2).
 */
import { OAuthError, readParams, required } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import { json } from '../http/respond.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';
import { authenticateClient } from '../rfc6749/client-auth.js';

/** The registered scope that lets a client introspect tokens issued to other clients. */
export const INTROSPECT_ANY = 'tessera:introspect';

const TOKEN_PARAMS = ['token', 'token_type_hint'] as const;
const INACTIVE = { active: false } as const;

export function introspectionEndpoint(engine: LifecycleEngine, config: Pick<ServerConfig, 'issuer' | 'audience'>) {
  return async (req: PlainRequest): Promise<PlainResponse> => {
    if (req.method !== 'POST') throw new OAuthError('invalid_request', 'use POST', { status: 405, headers: { allow: 'POST' } });
    const body = req.body ?? new URLSearchParams();
    const client = await authenticateClient(engine, req, body);
    if (client.authMethod === 'none') throw new OAuthError('invalid_client', 'public clients cannot introspect', { status: 401 });
    const { token } = readParams(body, TOKEN_PARAMS);
    const record = await engine.activeToken(required(token, 'token'));
    if (!record) return json(200, INACTIVE);
    const maySee = record.clientId === client.id || client.scope.split(' ').includes(INTROSPECT_ANY);
    if (!maySee) return json(200, INACTIVE);
    const user = record.userId === null ? undefined : await engine.getUser(record.userId);
    return json(200, {
      active: true,
      scope: record.scope,
      client_id: record.clientId,
      ...(user ? { username: user.username } : {}),
      sub: await engine.subjectOf(record),
      // RFC 9449 §6.2: a DPoP-bound access token is of type DPoP, its key confirmed by cnf.jkt.
      token_type: record.kind === 'access' ? (record.dpopJkt === null ? 'Bearer' : 'DPoP') : 'refresh_token',
      ...(record.kind === 'access' && record.dpopJkt !== null ? { cnf: { jkt: record.dpopJkt } } : {}),
      exp: Math.floor(record.expiresAt / 1000),
      iat: Math.floor(record.issuedAt / 1000),
      // RFC 8707 §2.2: the resource the token was issued for, else the server's default audience.
      aud: record.audience ?? config.audience,
      iss: config.issuer,
      jti: record.id,
      // RFC 8693 §4.1: who acts for the subject, for a token exchanged with an actor token.
      ...(record.act === null ? {} : { act: JSON.parse(record.act) as unknown }),
      // Extensions (RFC 7662 §2.2 allows them): the same private claims as a JWT access token's,
      // so a guard can tell which grant and family revocation events cover an opaque token.
      tessera_grant: record.grantId,
      tessera_family: record.familyId,
    });
  };
}

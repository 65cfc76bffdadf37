import { describe, expect, it } from 'vitest';
import { accessTokenClaims } from './access-token.js';

const facts = {
  issuer: 'https://as.example', audience: 'https://api.example', clientId: 'c1', id: 'j1', grantId: 'g1', familyId: 'f1',
  scope: 'read write', issuedAt: 1_700_000_000_999, expiresAt: 1_700_000_600_999, jkt: null,
};

describe('RFC 9068 §2.2 access token claims', () => {
  it('carry iss, exp, aud, sub, client_id, iat, jti and scope, in seconds, plus the grant and family', () => {
    expect(accessTokenClaims({ ...facts, user: { id: 'u1', username: 'alice' } })).toEqual({
      iss: 'https://as.example', exp: 1_700_000_600, aud: 'https://api.example', sub: 'u1', client_id: 'c1', iat: 1_700_000_000,
      jti: 'j1', scope: 'read write', username: 'alice', tessera_grant: 'g1', tessera_family: 'f1',
    });
  });
  it('name the client as sub when it acts on its own behalf (client_credentials), with no username', () => {
    const claims = accessTokenClaims({ ...facts, user: null });
    expect(claims.sub).toBe('c1');
    expect(claims).not.toHaveProperty('username');
  });
  it('RFC 9449 §6.1: a DPoP-bound token confirms its key by thumbprint (cnf.jkt); a bearer one has no cnf', () => {
    const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
    expect(accessTokenClaims({ ...facts, user: null, jkt }).cnf).toEqual({ jkt });
    expect(accessTokenClaims({ ...facts, user: null })).not.toHaveProperty('cnf');
  });
});

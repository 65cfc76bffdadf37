/**
 * The guard's verification rules against a real server: JWT access tokens checked locally (RFC
 * 9068 §4), opaque ones by introspection (RFC 7662), scopes and malformed headers (RFC 6750 §3).
 * Odd JWTs are signed with the server's own key, so only the rule under test differs.
 */
import { createPrivateKey, randomBytes, sign as cryptoSign } from 'node:crypto';
import { createGuard, type GuardFailure, type GuardResult } from '@tessera/guard';
import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { useServer } from './flows.js';
import { accessToken, accepts, claims, useGuards } from './guard-kit.js';
import { startTestServer } from './helpers.js';

const now = () => Math.floor(Date.now() / 1000);

function refused(result: GuardResult, status: number, error: string | undefined): GuardFailure {
  expect(result.ok).toBe(false);
  const f = result as GuardFailure;
  expect({ status: f.status, error: f.error }).toEqual({ status, error });
  return f;
}

describe('guard: JWT access tokens (RFC 9068 §4)', () => {
  const h = useServer();
  const guards = useGuards(h);
  const claimsFor = (over: Record<string, unknown> = {}) => ({
    iss: h.server.url, aud: h.server.tessera.config.audience, sub: 'user-1', client_id: 'client-1',
    iat: now(), exp: now() + 600, jti: randomBytes(16).toString('hex'), scope: 'read', ...over,
  });
  const sign = (over: Record<string, unknown> = {}, typ = 'at+jwt') => h.server.tessera.keys.sign(claimsFor(over), typ, 'ES256');

  it('a token from the issuer, for this audience, unexpired, is accepted with its claims', async () => {
    const g = await guards.ready();
    const app = await h.client({ tokenFormat: 'jwt' });
    const token = await accessToken(h, app, 'read');
    const result = await g.verify(`Bearer ${token}`, ['read']);
    expect(result).toMatchObject({ ok: true, token: { format: 'jwt', id: claims(token).jti, subject: app.id, clientId: app.id, scopes: ['read'] } });
  });

  it.each([
    ['typ must be at+jwt', {}, 'JWT', /typ/],
    ['iss must be the issuer', { iss: 'https://evil.example' }, 'at+jwt', /iss/],
    ['aud must include this resource server', { aud: 'https://other.example' }, 'at+jwt', /aud/],
    ['exp must not have passed (beyond the clock tolerance)', { exp: now() - 60 }, 'at+jwt', /expired/],
    ['nbf must have passed', { nbf: now() + 60 }, 'at+jwt', /nbf/],
    ['jti is required (§2.2)', { jti: undefined }, 'at+jwt', /jti/],
    ['client_id is required (§2.2)', { client_id: undefined }, 'at+jwt', /client_id/],
    ['exp is required (§2.2)', { exp: undefined }, 'at+jwt', /exp/],
    ['exp must be a number', { exp: String(now() + 600) }, 'at+jwt', /exp/],
  ])('RFC 9068 §4: %s (jose for a new header; node:crypto once the header has verified)', async (_rule, over, typ, description) => {
    for (const warm of [false, true]) {
      const g = await guards.ready();
      // A valid token first: its header segment is remembered, and the odd token takes the fast path.
      if (warm) expect(await accepts(g, await sign())).toBe(true);
      const f = refused(await g.verifyToken(await sign(over, typ)), 401, 'invalid_token');
      expect(f.description).toMatch(description);
      expect(f.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="/);
    }
  });

  it('RFC 9068 §4: typ application/at+jwt is accepted, and exp within the clock tolerance too', async () => {
    const g = await guards.ready({ clockTolerance: 5 });
    expect(await accepts(g, await sign({}, 'application/at+jwt'))).toBe(true);
    expect(await accepts(g, await sign({ exp: now() - 2 }))).toBe(true);
  });

  it('RFC 9068 §4: a signature by another key, a tampered payload, or alg none is refused', async () => {
    const g = await guards.ready({ jwksCooldown: 10 });
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT(claimsFor()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'not-ours' }).sign(privateKey);
    expect(refused(await g.verifyToken(foreign), 401, 'invalid_token').description).toMatch(/unknown key/);
    const [header, , signature] = (await sign()).split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify(claimsFor({ scope: 'admin' }))).toString('base64url')}.${signature}`;
    expect(refused(await g.verifyToken(tampered), 401, 'invalid_token').description).toMatch(/signature/);
    // Again once the header is known (node:crypto path), and with a truncated or missing signature.
    expect(await accepts(g, await sign())).toBe(true);
    expect(refused(await g.verifyToken(tampered), 401, 'invalid_token').description).toMatch(/signature/);
    const short = Buffer.from(signature!, 'base64url').subarray(0, 61).toString('base64url');
    expect(refused(await g.verifyToken(`${tampered.slice(0, tampered.lastIndexOf('.'))}.${short}`), 401, 'invalid_token').description).toMatch(/signature/);
    refused(await g.verifyToken(tampered.slice(0, tampered.lastIndexOf('.'))), 401, 'invalid_token');
    const none = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify(claimsFor())).toString('base64url')}.AAAA`;
    refused(await g.verifyToken(none), 401, 'invalid_token');
  });
});

describe('guard: one encoding only (RFC 7515 §2), on both verification paths', () => {
  const h = useServer();
  const guards = useGuards(h);

  /** Signs `header.payload` as they are (no re-encoding) with the server's current ES256 key, as the server signs access tokens. */
  async function signRaw(header: string, payload: string): Promise<string> {
    const keys = (await h.store.listKeys()).filter((k) => k.alg === 'ES256');
    const current = keys.findLast((k) => k.retireAt === null) ?? keys.at(-1)!;
    const key = createPrivateKey({ key: JSON.parse(current.privateJwk), format: 'jwk' });
    return `${header}.${payload}.${cryptoSign('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  }

  /** The same encoding with the unused low bits of its last character set: it decodes to the same bytes. */
  const strayBits = (segment: string) => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const unused = segment.length % 4 === 2 ? 4 : 2;
    return segment.slice(0, -1) + alphabet[alphabet.indexOf(segment.at(-1)!) | ((1 << unused) - 1)];
  };

  it('a signature or payload in any encoding but canonical base64url (padding, +/ alphabet, trailing junk, stray bits) is refused by jose and the fast path alike', async () => {
    const app = await h.client({ tokenFormat: 'jwt' });
    // A real token whose signature holds '-' or '_', so that the standard alphabet differs.
    let token = await accessToken(h, app);
    while (!/[-_]/.test(token.split('.')[2]!)) token = await accessToken(h, app);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    expect(signature).toHaveLength(86);
    // A payload whose encoding needs padding, so that padding and stray bits can be tried on it.
    let claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    let padded = '';
    for (let i = 0; Buffer.from(JSON.stringify(claims)).toString('base64url').length % 4 === 0; i++) claims = { ...claims, pad: 'x'.repeat(i + 1) };
    padded = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const variants: Record<string, string> = {
      'signature padded with =': `${header}.${payload}.${signature}==`,
      'signature in the standard alphabet': `${header}.${payload}.${signature.replace(/-/g, '+').replace(/_/g, '/')}`,
      'signature with trailing ~': `${header}.${payload}.${signature}~`,
      'signature with trailing /': `${header}.${payload}.${signature}/`,
      'signature with stray low bits': `${header}.${payload}.${strayBits(signature)}`,
      'payload padded with = (signed as such)': await signRaw(header, `${padded}${'='.repeat(4 - (padded.length % 4))}`),
      'payload with stray low bits (signed as such)': await signRaw(header, strayBits(padded)),
    };
    for (const [name, variant] of Object.entries(variants)) expect(variant, name).not.toBe(token);
    const cold = await guards.ready();
    const warm = await guards.ready();
    // The control: the canonical forms verify, and warm the second guard's fast path (a known header).
    expect(await accepts(warm, token)).toBe(true);
    expect(await accepts(warm, await signRaw(header, padded))).toBe(true);
    const seen: Record<string, [string, string]> = {};
    for (const [name, variant] of Object.entries(variants)) {
      const outcome = async (g: typeof cold) => {
        const r = await g.verifyToken(variant);
        return r.ok ? 'accepted' : `${r.status} ${r.error}`;
      };
      seen[name] = [await outcome(cold), await outcome(warm)];
    }
    expect(seen).toEqual(Object.fromEntries(Object.keys(variants).map((name) => [name, ['401 invalid_token', '401 invalid_token']])));
    // The cold guard never accepted anything: every variant went through jose.
    expect(cold.status().counters.accepted).toBe(0);
  });

  it('random edits of a real token\'s payload and signature: jose and the fast path give the same answer to each, and accept none', async () => {
    const token = await accessToken(h, await h.client({ tokenFormat: 'jwt' }));
    const cold = await guards.ready();
    const warm = await guards.ready();
    expect(await accepts(warm, token)).toBe(true);
    // A fixed seed (mulberry32): the same edits on every run.
    let seed = 0x9e3779b9;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    // RFC 6750 §2.1 b64token characters, so that every edit reaches the JWT checks.
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~+/';
    const pick = (text: string) => text[Math.floor(random() * text.length)]!;
    const header = token.slice(0, token.indexOf('.'));
    const edits = [
      (t: string, i: number) => `${t.slice(0, i)}${pick(chars)}${t.slice(i + 1)}`,
      (t: string, i: number) => `${t.slice(0, i)}${pick(chars)}${t.slice(i)}`,
      (t: string, i: number) => `${t.slice(0, i)}${t.slice(i + 1)}`,
      (t: string) => `${t}${'='.repeat(1 + Math.floor(random() * 2))}`,
      (t: string) => `${t}${pick(chars)}`,
    ];
    const disagreements: string[] = [];
    let tried = 0;
    for (let n = 0; n < 150; n++) {
      const at = header.length + 1 + Math.floor(random() * (token.length - header.length - 1));
      const edited = edits[Math.floor(random() * edits.length)]!(token, at);
      if (edited === token || edited.split('.').length !== 3 || edited.split('.').some((p) => p === '') || /=[^=]/.test(edited)) continue;
      tried++;
      const [a, b] = [await cold.verifyToken(edited), await warm.verifyToken(edited)];
      const outcome = (r: typeof a) => (r.ok ? 'accepted' : `${r.status} ${r.description}`);
      if (outcome(a) !== outcome(b) || a.ok) disagreements.push(`${outcome(a)} / ${outcome(b)} at ${at}`);
    }
    console.log(`random edits: ${tried} tried on both paths`);
    expect(disagreements).toEqual([]);
  });
});

describe('guard: opaque tokens (RFC 7662)', () => {
  const h = useServer();
  const guards = useGuards(h);

  it('an active opaque token is accepted through introspection; inactive, unknown and refresh tokens are refused', async () => {
    const g = await guards.ready();
    const app = await h.client();
    const token = await accessToken(h, app, 'read');
    expect(await g.verifyToken(token, ['read'])).toMatchObject({ ok: true, token: { format: 'opaque', clientId: app.id, scopes: ['read'] } });
    refused(await g.verifyToken(`tsa_${randomBytes(32).toString('base64url')}`), 401, 'invalid_token');
    const code = await h.codeClient();
    const { refresh_token } = await h.userTokens(code);
    expect(refused(await g.verifyToken(refresh_token!), 401, 'invalid_token').description).toMatch(/not an access token/);
    await h.revoke(app, token);
    await expect.poll(() => accepts(g, token)).toBe(false);
  });
});

describe('guard: RFC 6750 §3 errors', () => {
  const h = useServer();
  const guards = useGuards(h);

  it('RFC 6750 §3.1: a token without a required scope gets 403 insufficient_scope naming the scope needed', async () => {
    const g = await guards.ready();
    const token = await accessToken(h, await h.client({ tokenFormat: 'jwt' }), 'read');
    const f = refused(await g.verify(`Bearer ${token}`, ['read', 'write']), 403, 'insufficient_scope');
    expect(f.headers['www-authenticate']).toMatch(/error="insufficient_scope".*scope="read write"/);
    expect(f.body).toMatchObject({ error: 'insufficient_scope', scope: 'read write' });
  });

  it('RFC 6750 §3.1: a request without a bearer token gets 401 and a bare challenge, without an error code', async () => {
    const g = await guards.ready({ realm: 'notes' });
    for (const header of [undefined, '', 'Basic Zm9vOmJhcg==']) {
      const f = refused(await g.verify(header), 401, undefined);
      expect(f.headers['www-authenticate']).toBe('Bearer realm="notes"');
    }
  });

  it('RFC 6750 §3.1: a malformed Authorization header gets 400 invalid_request', async () => {
    const g = await guards.ready();
    for (const header of ['Bearer', 'Bearer a b', 'Bearer "quoted"', 'Bearer a,b']) refused(await g.verify(header), 400, 'invalid_request');
  });

  it('the metric hook sees every answer, and status() counts them', async () => {
    const seen: number[] = [];
    const g = await guards.ready({ onVerify: (result) => seen.push(result.ok ? 200 : result.status) });
    const token = await accessToken(h, await h.client({ tokenFormat: 'jwt' }), 'read');
    await g.verify(`Bearer ${token}`);
    await g.verify(`Bearer ${token}`, ['write']);
    await g.verify('Bearer');
    await g.verify(undefined);
    expect(seen).toEqual([200, 403, 400, 401]);
    expect(g.status().counters).toEqual({ accepted: 1, refused: 3, unavailable: 0 });
  });

  it('the token never appears in a refusal, in status(), or in any description', async () => {
    const g = await guards.ready();
    const app = await h.client({ tokenFormat: 'jwt' });
    const token = await accessToken(h, app);
    await h.revoke(app, token);
    await expect.poll(() => accepts(g, token)).toBe(false);
    const outputs = [await g.verifyToken(token), await g.verifyToken(`${token}x`), await g.verifyToken(token, ['admin']), g.status()];
    for (const out of outputs) for (const part of token.split('.')) expect(JSON.stringify(out)).not.toContain(part);
  });
});

describe('createGuard refuses insecure setups unless asked loudly', () => {
  it('a plain-HTTP issuer off loopback, a guard without the feed, alg none', () => {
    const base = { audience: 'https://api.example', client: { id: 'x', secret: 'y' } };
    expect(() => createGuard({ ...base, issuer: 'http://as.example' })).toThrow(/not https/);
    expect(() => createGuard({ issuer: 'https://as.example', audience: 'a' })).toThrow(/revocations: 'ignore'/);
    expect(() => createGuard({ ...base, issuer: 'https://as.example', algorithms: ['none'] })).toThrow(/none/);
  });

  it('expectedOrigin must be an origin, scheme://host[:port]: a path, a query, a fragment, credentials or another scheme are refused at creation', async () => {
    const base = { issuer: 'https://as.example', audience: 'https://api.example', revocations: 'ignore' as const };
    for (const bad of ['', 'api.example.com', 'https://api.example.com/api', 'https://api.example.com?', 'https://api.example.com/#top', 'https://user:pw@api.example.com', 'ftp://api.example.com']) {
      expect(() => createGuard({ ...base, expectedOrigin: bad }), bad).toThrow(/expectedOrigin must be an origin/);
    }
    for (const good of ['https://api.example.com', 'https://api.example.com/', 'HTTPS://API.Example.com:443', 'http://127.0.0.1:8080']) {
      await createGuard({ ...base, expectedOrigin: good }).close();
    }
  });

  it("revocations: 'ignore' verifies JWTs with no client at all (and cannot hear revocations)", async () => {
    const s = await startTestServer();
    try {
      const app = await s.createClient({ tokenFormat: 'jwt' });
      const token = (await s.post('/token', { grant_type: 'client_credentials' }, { authorization: app.basic })).body.access_token;
      const g = createGuard({ issuer: s.url, audience: s.tessera.config.audience, revocations: 'ignore' });
      expect(await accepts(g, token)).toBe(true);
      expect(g.status().feed).toBeNull();
      await g.close();
    } finally {
      await s.close();
    }
  });
});

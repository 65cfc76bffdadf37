/**
 * Resource indicators (RFC 8707) over HTTP: `resource` at /authorize, PAR and /token names the
 * access token's audience, among the resources allowed for the client; a code narrows to one its
 * request named, a refresh switches among the grant's; guards check `aud` as they always did.
 */
import { buildAuthorizationUrl, clientCredentialsGrantRequest, clientSecretBasic, discover, processTokenResponse } from '@tessera/client';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { field } from './agent.js';
import { expectError, pkce, REDIRECT_URI, useServer } from './flows.js';
import { DEVICE_GRANT, decide, deviceClient, enterCode, startDevice } from './device-kit.js';
import { useGuards } from './guard-kit.js';

const CALENDAR = 'https://calendar.example/';
const CONTACTS = 'https://contacts.example/api';
/** Allowed for every client by the server's `resources` setting. */
const SHARED = 'urn:example:shared';
const UNKNOWN = 'https://unknown.example/';

describe('resource indicators (RFC 8707)', () => {
  const h = useServer({ resources: [SHARED] });
  const guards = useGuards(h);
  const jwtClient = () => h.codeClient({ tokenFormat: 'jwt', resources: [CALENDAR, CONTACTS] });

  /** The redirect /authorize answers a signed-in user with, as query parameters. */
  async function authorize(query: URLSearchParams): Promise<Record<string, string>> {
    const agent = await h.signedIn(await h.alice());
    const res = await agent.get(`/authorize?${query}`);
    expect(res.status, res.body).toBe(302);
    return Object.fromEntries(new URL(res.location!).searchParams);
  }

  const authorizationQuery = (clientId: string, resources: string[]) => {
    const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, scope: 'read', state: 's', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    for (const r of resources) query.append('resource', r);
    return query;
  };

  it('RFC 8707 §2.2: a code asked for with a resource is redeemed for a JWT whose aud is that resource', async () => {
    const c = await jwtClient();
    const p = pkce();
    const code = await h.code(c, { pkce: p, resources: [CALENDAR] });
    const res = await h.token(c, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource: CALENDAR });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token).aud).toBe(CALENDAR);
  });

  it('RFC 8707 §2.2: without a resource the token keeps the server\'s audience, as before', async () => {
    const c = await jwtClient();
    const { access_token } = await h.userTokens(c);
    expect(decodeJwt(access_token).aud).toBe(h.server.tessera.config.audience);
  });

  it('RFC 8707 §2: introspection of an opaque token names its resource as aud', async () => {
    const c = await h.client({ resources: [CALENDAR] });
    const res = await h.token(c, { grant_type: 'client_credentials', resource: CALENDAR });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await h.introspect(c, res.body.access_token)).body).toMatchObject({ active: true, aud: CALENDAR });
    const plain = await h.token(c, { grant_type: 'client_credentials' });
    expect((await h.introspect(c, plain.body.access_token)).body.aud).toBe(h.server.tessera.config.audience);
  });

  it('RFC 8707 §2: a resource from the server-wide list is allowed for every client', async () => {
    const c = await h.client({ tokenFormat: 'jwt' });
    const res = await h.token(c, { grant_type: 'client_credentials', resource: SHARED });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).aud).toBe(SHARED);
  });

  it('RFC 8707 §2: at /token, a resource not allowed for the client, a malformed one and two at once are invalid_target (JSON 400, no-store)', async () => {
    const c = await h.client({ resources: [CALENDAR, CONTACTS] });
    expectError(await h.token(c, { grant_type: 'client_credentials', resource: UNKNOWN }), 400, 'invalid_target');
    expectError(await h.token(c, { grant_type: 'client_credentials', resource: `${CALENDAR}#frag` }), 400, 'invalid_target');
    expectError(await h.token(c, { grant_type: 'client_credentials', resource: '/relative' }), 400, 'invalid_target');
    const two = new URLSearchParams({ grant_type: 'client_credentials' });
    two.append('resource', CALENDAR);
    two.append('resource', CONTACTS);
    expectError(await h.post('/token', two.toString(), { authorization: c.basic }), 400, 'invalid_target');
  });

  it('RFC 8707 §2: at /authorize, a resource not allowed for the client comes back to the redirect URI as invalid_target', async () => {
    const c = await jwtClient();
    expect(await authorize(authorizationQuery(c.id, [CALENDAR, UNKNOWN]))).toMatchObject({ error: 'invalid_target', state: 's' });
    expect(await authorize(authorizationQuery(c.id, [`${CALENDAR}#x`]))).toMatchObject({ error: 'invalid_target', state: 's' });
  });

  it('RFC 8707 §2.1: consent covers the resources too: a new resource asks the user again, and the page names it', async () => {
    const c = await jwtClient();
    // The user consented to the scope at no resource (h.code records that consent).
    await h.code(c, { scope: 'read' });
    const agent = await h.signedIn(await h.alice());
    const page = await agent.get(`/authorize?${authorizationQuery(c.id, [CONTACTS])}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(CONTACTS);
    const allowed = await agent.post('/consent', { csrf: field(page.body, 'csrf'), request: field(page.body, 'request'), decision: 'allow' });
    expect(new URL(allowed.location!).searchParams.get('code')).toBeTruthy();
    const grant = await h.store.findGrant(c.id, (await h.alice()).id);
    expect(grant?.resources).toEqual([CONTACTS]);
  });

  it('RFC 8707 §2: a pushed request (PAR) with an allowed resource is taken; one with another resource is invalid_target at the push (JSON 400, no-store)', async () => {
    const c = await jwtClient();
    const push = (resources: string[]) => {
      const form = authorizationQuery(c.id, resources);
      form.delete('client_id');
      return h.post('/par', form.toString(), { authorization: c.basic });
    };
    expect((await push([CALENDAR, CONTACTS])).status).toBe(201);
    expectError(await push([UNKNOWN]), 400, 'invalid_target');
  });

  it('RFC 8707 §2.2: a code exchange narrows to one resource its request named; one it did not name is invalid_target, and the code stays unspent', async () => {
    const c = await jwtClient();
    const p = pkce();
    const code = await h.code(c, { pkce: p, resources: [CALENDAR] });
    const ask = (resource: string) => h.token(c, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource });
    // Allowed for the client, but not named by the authorization request.
    expectError(await ask(CONTACTS), 400, 'invalid_target');
    const res = await ask(CALENDAR);
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).aud).toBe(CALENDAR);
  });

  it('RFC 8707 §2.2: a refresh asks a token for another resource of the grant; one outside the grant is invalid_target', async () => {
    const c = await jwtClient();
    const p = pkce();
    const code = await h.code(c, { pkce: p, resources: [CALENDAR, CONTACTS] });
    const first = await h.token(c, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: p.verifier, resource: CALENDAR });
    expect(decodeJwt(first.body.access_token).aud).toBe(CALENDAR);
    const second = await h.token(c, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, resource: CONTACTS });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(decodeJwt(second.body.access_token).aud).toBe(CONTACTS);
    // Allowed server-wide, but the user never authorized it for this grant.
    expectError(await h.token(c, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token, resource: SHARED }), 400, 'invalid_target');
  });

  it('RFC 8707 with RFC 8628: the device authorization request names the resources, the page shows them, approving consents to them; the token request narrows to one', async () => {
    const c = await deviceClient(h, { tokenFormat: 'jwt', resources: [CALENDAR, CONTACTS] });
    const refused = await h.as(c, '/device_authorization', { scope: 'read', resource: UNKNOWN });
    expectError(refused, 400, 'invalid_target');
    const started = await startDevice(h, c, { scope: 'read', resource: CALENDAR });
    const user = await h.user();
    const agent = await h.signedIn(user);
    expect((await enterCode(agent, started.user_code)).body).toContain(CALENDAR);
    await decide(agent, started.user_code, 'allow');
    expect((await h.store.findGrant(c.id, user.id))?.resources).toEqual([CALENDAR]);
    // Allowed for the client, but not named by the device authorization request: the code stays unredeemed.
    expectError(await h.token(c, { grant_type: DEVICE_GRANT, device_code: started.device_code, resource: CONTACTS }), 400, 'invalid_target');
    const res = await h.token(c, { grant_type: DEVICE_GRANT, device_code: started.device_code, resource: CALENDAR });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token).aud).toBe(CALENDAR);
  });

  it('@tessera/client passes resource through: repeated on the authorization URL, once on a token request', async () => {
    const c = await h.client({ tokenFormat: 'jwt', resources: [CALENDAR] });
    const as = await discover(h.server.url);
    const url = buildAuthorizationUrl(as, { client_id: c.id }, { redirect_uri: REDIRECT_URI, resource: [CALENDAR, CONTACTS] });
    expect(url.searchParams.getAll('resource')).toEqual([CALENDAR, CONTACTS]);
    const tokens = await processTokenResponse(await clientCredentialsGrantRequest(as, { client_id: c.id }, clientSecretBasic(c.secret as string), { resource: CALENDAR }));
    expect(decodeJwt(tokens.access_token).aud).toBe(CALENDAR);
  });

  it('a guard configured with a resource as its audience accepts tokens for that resource and refuses the others', async () => {
    const c = await h.client({ tokenFormat: 'jwt', resources: [CALENDAR] });
    const calendarGuard = await guards.ready({ audience: CALENDAR });
    const defaultGuard = await guards.ready();
    const forCalendar = (await h.token(c, { grant_type: 'client_credentials', resource: CALENDAR })).body.access_token;
    const forDefault = (await h.token(c, { grant_type: 'client_credentials' })).body.access_token;
    expect(await calendarGuard.verifyToken(forCalendar)).toMatchObject({ ok: true });
    expect(await calendarGuard.verifyToken(forDefault)).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
    expect(await defaultGuard.verifyToken(forCalendar)).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
    expect(await defaultGuard.verifyToken(forDefault)).toMatchObject({ ok: true });
  });

  it('an opaque token for a resource: a guard introspecting it accepts it only as that resource', async () => {
    const c = await h.client({ resources: [CALENDAR] });
    const token = (await h.token(c, { grant_type: 'client_credentials', resource: CALENDAR })).body.access_token;
    expect(await (await guards.ready({ audience: CALENDAR })).verifyToken(token)).toMatchObject({ ok: true });
    expect(await (await guards.ready()).verifyToken(token)).toMatchObject({ ok: false, error: 'invalid_token' });
  });
});

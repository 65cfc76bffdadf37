/**
 * Per-resource tokens in one session (RFC 8707 §2.2): session.fetch / accessToken with
 * `resource` get an access token for that resource with the session's one refresh token, keep it
 * in the token set, reuse it until it expires, and renew each resource's token under the same lock
 * as the set's own (they all rotate one refresh token, so a second refresh would be reuse).
 */
import { MemoryTokenStore, OAuthResponseError, processTokenResponse, type TokenSet } from '@tessera/client';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startResourceServer, type ResourceServer } from './client/resource-server.js';
import { consent, rotations, sessionFor } from './client/tessera.js';
import { useServer } from './flows.js';
import { readmeCode, runSignInExample } from './readme-kit.js';

const CALENDAR = 'https://calendar.example/';
const CONTACTS = 'https://contacts.example/api';
const UNNAMED = 'https://unnamed.example/';

const h = useServer();
let rs: ResourceServer;
beforeAll(async () => {
  rs = await startResourceServer(h);
});
afterAll(() => rs?.close());

const aud = (token: string | undefined) => decodeJwt(token!).aud;
const now = () => Math.floor(Date.now() / 1000);

/** A session signed in for CALENDAR and CONTACTS (RFC 8707 §2.1: the resources go in the authorization request). */
async function signedIn(options: Parameters<typeof sessionFor>[2] = {}) {
  const c = await h.codeClient({ tokenFormat: 'jwt', resources: [CALENDAR, CONTACTS, UNNAMED] });
  const session = sessionFor(h, c, options);
  const { url } = await session.authorizationUrl({ resource: [CALENDAR, CONTACTS] });
  const first = await session.fetchToken(await consent(h, url));
  return { c, session, first };
}

async function fetchFor(session: Awaited<ReturnType<typeof signedIn>>['session'], resource?: string): Promise<string> {
  rs.seen.length = 0;
  const res = await session.fetch(`${rs.url}/data`, undefined, { resource });
  expect(res.status).toBe(200);
  return rs.seen.at(-1)!.token!;
}

describe('per-resource tokens in one session (RFC 8707)', () => {
  it('RFC 8707 §2.2: fetch with a resource presents a token whose aud is that resource, got by refresh, kept and reused', async () => {
    const { c, session, first } = await signedIn();
    expect(await fetchFor(session)).toBe(first.access_token);
    const calendar = await fetchFor(session, CALENDAR);
    expect(aud(calendar)).toBe(CALENDAR);
    const contacts = await fetchFor(session, CONTACTS);
    expect(aud(contacts)).toBe(CONTACTS);
    expect(await rotations(h, c)).toBe(2);
    // Reused while fresh: no more refreshes, and the set's own token is still the first one.
    expect(await fetchFor(session, CALENDAR)).toBe(calendar);
    expect(await session.accessToken({ resource: CONTACTS })).toBe(contacts);
    expect(await fetchFor(session)).toBe(first.access_token);
    expect(await rotations(h, c)).toBe(2);
    const set = (await session.getToken())!;
    expect(Object.keys(set.resource_tokens ?? {}).sort()).toEqual([CALENDAR, CONTACTS].sort());
    expect(set.refresh_token).not.toBe(first.refresh_token);
  });

  it('the resource tokens are stored with the set: a new session on the same store uses them without a request', async () => {
    const store = new MemoryTokenStore();
    const { c, session } = await signedIn({ store });
    const calendar = await fetchFor(session, CALENDAR);
    const restarted = sessionFor(h, c, { store });
    expect(await restarted.accessToken({ resource: CALENDAR })).toBe(calendar);
    expect(await rotations(h, c)).toBe(1);
  });

  it('onTokenUpdated hears which resource\'s token was refreshed, with the whole set stored', async () => {
    const store = new MemoryTokenStore();
    const heard: Array<{ reason: string; resource: string | undefined; stored: TokenSet | undefined }> = [];
    const { session } = await signedIn({
      store,
      storeKey: 'alice',
      onTokenUpdated: async (_token, { reason, resource }) => {
        heard.push({ reason, resource, stored: await store.get('alice') });
      },
    });
    await session.accessToken({ resource: CALENDAR });
    await session.refresh();
    expect(heard.map(({ reason, resource }) => [reason, resource])).toEqual([['issued', undefined], ['refreshed', CALENDAR], ['refreshed', undefined]]);
    // A refresh of the set's own token keeps the resources' tokens, which are still good.
    expect(Object.keys(heard[2]!.stored!.resource_tokens!)).toEqual([CALENDAR]);
  });

  it('RFC 9700 §4.14.2: concurrent requests for two resources and the set\'s own token, all expired, make one refresh each and never reuse', async () => {
    const { c, session } = await signedIn();
    await session.accessToken({ resource: CALENDAR });
    await session.accessToken({ resource: CONTACTS });
    const set = (await session.getToken())!;
    const expired = <T extends { expires_at?: number }>(t: T): T => ({ ...t, expires_at: now() - 1 });
    await session.setToken({ ...expired(set), resource_tokens: { [CALENDAR]: expired(set.resource_tokens![CALENDAR]!), [CONTACTS]: expired(set.resource_tokens![CONTACTS]!) } });
    const before = await rotations(h, c);
    const calls = [undefined, CALENDAR, CONTACTS].flatMap((resource) => Array.from({ length: 8 }, () => session.fetch(`${rs.url}/data`, undefined, { resource })));
    const statuses = (await Promise.all(calls)).map((r) => r.status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect((await rotations(h, c)) - before).toBe(3);
    // No reuse detected: the grant lives, and its latest refresh token still works.
    expect((await session.refresh()).access_token).toBeDefined();
  });

  it('RFC 8707 §2.2: a resource the authorization request did not name is refused with invalid_target, and the session is unchanged', async () => {
    const { c, session, first } = await signedIn();
    const err = await session.fetch(`${rs.url}/data`, undefined, { resource: UNNAMED }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthResponseError);
    expect((err as OAuthResponseError).error).toBe('invalid_target');
    expect(await rotations(h, c)).toBe(0);
    expect(await fetchFor(session)).toBe(first.access_token);
  });

  it('a resource token that expires within the margin is renewed before use; the set\'s own token is untouched', async () => {
    const { c, session, first } = await signedIn();
    const calendar = await session.accessToken({ resource: CALENDAR });
    const set = (await session.getToken())!;
    await session.setToken({ ...set, resource_tokens: { [CALENDAR]: { ...set.resource_tokens![CALENDAR]!, expires_at: now() + 5 } } });
    const renewed = await fetchFor(session, CALENDAR);
    expect(renewed).not.toBe(calendar);
    expect(aud(renewed)).toBe(CALENDAR);
    expect(await rotations(h, c)).toBe(2);
    expect((await session.getToken())!.access_token).toBe(first.access_token);
  });

  it('client credentials: a resource token comes from the same grant with resource; logout() revokes it too', async () => {
    const c = await h.client({ tokenFormat: 'jwt', resources: [CALENDAR] });
    const session = sessionFor(h, c);
    const own = await session.clientCredentials();
    const calendar = await session.accessToken({ resource: CALENDAR });
    expect(aud(calendar)).toBe(CALENDAR);
    expect(aud(own.access_token)).not.toBe(CALENDAR);
    // No refresh token to revoke (whose grant would take every token with it): each access token is revoked.
    await session.logout();
    expect(await h.active(calendar)).toBe(false);
    expect(await h.active(own.access_token)).toBe(false);
  });

  it('the README example runs verbatim: one sign-in naming two APIs, then a token of its own for each', async () => {
    const c = await h.codeClient({ tokenFormat: 'jwt', redirectUris: ['http://127.0.0.1:8080/callback'], scope: 'read', resources: [CALENDAR, CONTACTS] });
    rs.seen.length = 0;
    const env = { CLIENT_ID: c.id, CLIENT_SECRET: c.secret, CALENDAR_API: `${rs.url}/events`, CONTACTS_API: `${rs.url}/people` };
    const { code, stdout, stderr } = await runSignInExample(h, readmeCode('client-resources-example', 'js'), env);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('calendar 200 contacts 200');
    expect(rs.seen.map((s) => aud(s.token))).toEqual([CALENDAR, CONTACTS]);
  });

  it('a token response\'s own resource_tokens field is dropped: only the session fills it', async () => {
    const body = { access_token: 'a', token_type: 'Bearer', resource_tokens: { [CALENDAR]: { access_token: 'planted', token_type: 'Bearer' } } };
    const token = await processTokenResponse(new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } }));
    expect(token.resource_tokens).toBeUndefined();
  });
});

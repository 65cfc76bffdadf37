/**
 * The README's OAuth 1.0a example is a contract: the code between the oauth1-example markers runs
 * verbatim under Node (with the built package) against oauthlib's RFC 5849 provider, which stands
 * in for the photo site. The test plays the user: it opens the printed URL (the provider approves
 * at once) and pastes the callback URL back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLIENT_KEY, CLIENT_SECRET, type OAuthlibServer, rsaSha1KeyPair, startOAuthlibServer } from './oauthlib-oauth1.js';
import { readmeCode, runPromptedExample } from './readme-kit.js';

let server: OAuthlibServer;

beforeAll(async () => {
  server = await startOAuthlibServer((await rsaSha1KeyPair()).publicPem);
});

afterAll(async () => {
  await server?.stop();
});

it('the README OAuth 1.0a example runs verbatim: temporary credentials, authorization, token credentials, a signed GET, a signed POST with the stored token credentials', async () => {
  const code = readmeCode('oauth1-example', 'js').replaceAll('https://photos.example.net', server.url);
  const { code: exitCode, stdout, stderr } = await runPromptedExample(code, { CLIENT_KEY, CLIENT_SECRET }, async (url) => {
    const approval = await fetch(url, { redirect: 'manual' });
    expect(approval.status).toBe(302);
    return approval.headers.get('location') as string;
  });
  expect({ exitCode, stderr, serverStderr: server.stderr() }).toEqual({ exitCode: 0, stderr: '', serverStderr: '' });
  // 200 only when oauthlib verified the signature (401 otherwise).
  expect(stdout).toContain('GET /photos: 200');
  expect(stdout).toContain('POST /photos: 200');
}, 60_000);

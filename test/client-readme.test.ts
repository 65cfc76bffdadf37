/**
 * The README's client example is a contract: the code between the client-example markers runs
 * verbatim under Node against a real server, as a user would run it (with the built package).
 * The test plays the user: it opens the printed URL, consents, and pastes the redirect URL back.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { useServer } from './flows.js';
import { readmeCode, runSignInExample } from './readme-kit.js';

const h = useServer();

it('the README client example runs verbatim: sign in, introspect, refresh, logout, tokens in a file', async () => {
  const c = await h.codeClient({ redirectUris: ['http://127.0.0.1:8080/callback'], scope: 'read write' });
  let tokensFile = '';
  const { code, stdout, stderr } = await runSignInExample(h, readmeCode('client-example', 'js'), { CLIENT_ID: c.id, CLIENT_SECRET: c.secret }, (dir) => {
    tokensFile = readFileSync(join(dir, 'tokens.json'), 'utf8');
  });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toContain('active: true scope: read');
  // onTokenUpdated hears why: the sign-in, the refresh, the logout (no token left then).
  expect(stdout.match(/token \w+, expires at \S+/g)).toEqual([expect.stringMatching(/^token issued, expires at \d+$/), expect.stringMatching(/^token refreshed, expires at \d+$/), 'token revoked, expires at undefined']);
  // logout() forgot the tokens: the file store holds none for this client.
  expect(JSON.parse(tokensFile)).toEqual({});
  const events = (await h.store.readAudit(0, 1_000_000)).filter((r) => r.clientId === c.id).map((r) => r.event);
  expect(events).toEqual(expect.arrayContaining(['token.rotated', 'token.revoked']));
});

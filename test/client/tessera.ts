/** Tessera-side helpers for the client tests: sessions for test clients, the user's consent, rotation counts. */
import { clientSecretBasic, clientSecretPost, none, OAuth2Session, type SessionOptions } from '@tessera/client';
import { expect } from 'vitest';
import { field } from '../agent.js';
import { type Harness, REDIRECT_URI } from '../flows.js';
import type { TestClient } from '../helpers.js';

/** A session for a registered test client, authenticating by its registered method. */
export function sessionFor(h: Harness, c: TestClient, options: Partial<SessionOptions> = {}): OAuth2Session {
  const auth = c.client.authMethod === 'client_secret_basic' ? clientSecretBasic(c.secret!) : c.client.authMethod === 'client_secret_post' ? clientSecretPost(c.secret!) : none();
  return new OAuth2Session({ issuer: h.server.url, clientId: c.id, clientAuth: auth, redirectUri: REDIRECT_URI, scope: c.client.scope, ...options });
}

/**
 * The user, signed in, opens the authorization URL and decides on the consent page (or is sent
 * straight back when consent is already on record); returns the callback URL.
 */
export async function consent(h: Harness, url: string, decision: 'allow' | 'deny' = 'allow'): Promise<string> {
  const agent = await h.signedIn(await h.alice());
  const page = await agent.get(url);
  if (page.status === 302) return page.location!;
  expect(page.status, page.body).toBe(200);
  const back = await agent.post('/consent', { csrf: field(page.body, 'csrf'), request: field(page.body, 'request'), decision });
  expect(back.status).toBe(303);
  return back.location!;
}

/** Code flow through the session: authorization URL → consent → code exchange. */
export async function signIn(h: Harness, session: OAuth2Session) {
  const { url } = await session.authorizationUrl();
  return session.fetchToken(await consent(h, url));
}

/** How many refresh tokens of this client the server rotated: counted in its audit log. */
export async function rotations(h: Harness, c: TestClient): Promise<number> {
  const audit = await h.store.readAudit(0, 1_000_000);
  return audit.filter((r) => r.event === 'token.rotated' && r.clientId === c.id).length;
}

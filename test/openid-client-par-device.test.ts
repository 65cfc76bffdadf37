/**
 * openid-client (npm, the certified relying-party library, a client no one here wrote) against
 * Tessera's pushed authorization requests (RFC 9126) and device flow (RFC 8628), found through
 * RFC 8414 discovery.
 */
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { Agent, field } from './agent.js';
import { decide, deviceClient } from './device-kit.js';
import { REDIRECT_URI, useServer } from './flows.js';
import type { TestClient } from './helpers.js';

describe('openid-client: PAR and the device flow against Tessera', () => {
  const h = useServer({ deviceCodeInterval: 1 });

  const discover = (c: TestClient) =>
    client.discovery(new URL(h.server.url), c.id, undefined, client.ClientSecretBasic(c.secret as string), { algorithm: 'oauth2', execute: [client.allowInsecureRequests] });

  it('RFC 9126: buildAuthorizationUrlWithPAR pushes the request; the browser brings the request_uri; authorizationCodeGrant redeems the code', async () => {
    const c = await h.codeClient({ scope: 'read' });
    const config = await discover(c);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT_URI, scope: 'read', state, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    // The browser: sign in, consent, and back to the client's redirect URI.
    const user = await h.user();
    const agent = new Agent(h.server.url);
    const first = await agent.get(url.href);
    const login = await agent.get(first.location!);
    const signedIn = await agent.post('/login', { username: user.username, password: user.password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') });
    const consent = await agent.get(signedIn.location!);
    const back = await agent.post('/consent', { csrf: field(consent.body, 'csrf'), request: field(consent.body, 'request'), decision: 'allow' });
    const tokens = await client.authorizationCodeGrant(config, new URL(back.location!), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'read' });
    expect(await client.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true, client_id: c.id, sub: user.id });
  });

  it('RFC 8628: initiateDeviceAuthorization, the user approves on /device, pollDeviceAuthorizationGrant gets the tokens', async () => {
    const c = await deviceClient(h, { scope: 'read' });
    const config = await discover(c);
    const device = await client.initiateDeviceAuthorization(config, { scope: 'read' });
    expect(device).toMatchObject({ verification_uri: `${h.server.url}/device`, interval: 1 });
    const polling = client.pollDeviceAuthorizationGrant(config, device);
    await decide(await h.signedIn(await h.alice()), device.user_code, 'allow');
    const tokens = await polling;
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'read' });
    expect(await client.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true, client_id: c.id });
  });
});

/**
 * @tessera/client's device flow (RFC 8628) against Tessera's own server: deviceAuthorization()
 * finds the endpoint in the metadata, pollDeviceToken() honours the interval while the user decides
 * on the /device page, and stops with a typed error on access_denied and expired_token.
 */
import { none, OAuth2Session } from '@tessera/client';
import { describe, expect, it } from 'vitest';
import { sessionFor } from './client/tessera.js';
import { decide, deviceClient } from './device-kit.js';
import { useServer } from './flows.js';

describe('@tessera/client device flow against Tessera (RFC 8628)', () => {
  const h = useServer({ deviceCodeInterval: 1 });

  it('RFC 8628 §3.1–3.5: deviceAuthorization() then pollDeviceToken() gets the tokens once the user approves', async () => {
    const c = await deviceClient(h, { scope: 'read' });
    const session = sessionFor(h, c);
    const device = await session.deviceAuthorization();
    expect(device).toMatchObject({ verification_uri: `${h.server.url}/device`, interval: 1, expires_in: 600 });
    const polling = session.pollDeviceToken(device);
    await decide(await h.signedIn(await h.alice()), device.user_code, 'allow');
    const token = await polling;
    expect(token).toMatchObject({ token_type: 'Bearer', scope: 'read', refresh_token: expect.any(String) });
    expect(await session.getToken()).toEqual(token);
    expect(await session.introspect()).toMatchObject({ active: true, client_id: c.id });
  });

  it('a public client (none) polls with its client_id alone', async () => {
    const c = await deviceClient(h, { authMethod: 'none', grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'], scope: 'read' });
    const session = new OAuth2Session({ issuer: h.server.url, clientId: c.id, clientAuth: none(), scope: 'read' });
    const device = await session.deviceAuthorization();
    const polling = session.pollDeviceToken(device);
    await decide(await h.signedIn(await h.alice()), device.user_code, 'allow');
    await expect(polling).resolves.toMatchObject({ token_type: 'Bearer' });
  });

  it('RFC 8628 §3.5: a denial stops polling with a typed access_denied error', async () => {
    const c = await deviceClient(h);
    const session = sessionFor(h, c);
    const device = await session.deviceAuthorization();
    const polling = session.pollDeviceToken(device);
    await decide(await h.signedIn(await h.alice()), device.user_code, 'deny');
    await expect(polling).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'access_denied' });
  });
});

describe('@tessera/client device flow: expiry', () => {
  const h = useServer({ deviceCodeInterval: 1, deviceCodeTtl: 1 });

  it('RFC 8628 §3.5: expired_token stops polling with a typed error', async () => {
    const session = sessionFor(h, await deviceClient(h));
    const device = await session.deviceAuthorization();
    await expect(session.pollDeviceToken(device)).rejects.toMatchObject({ code: 'ERR_OAUTH_RESPONSE', error: 'expired_token' });
  });
});

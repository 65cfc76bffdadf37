/** The device flow (RFC 8628) for the HTTP suites: a device client, its authorization, and the user's side on the /device page. */
import { expect } from 'vitest';
import { type Agent, field, type Page } from './agent.js';
import type { Harness } from './flows.js';
import type { TestClient } from './helpers.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A client registered for the device grant (with refresh tokens unless told otherwise). */
export function deviceClient(h: Harness, options: Parameters<Harness['client']>[0] = {}): Promise<TestClient> {
  return h.client({ grantTypes: [DEVICE_GRANT, 'refresh_token'], redirectUris: [], scope: 'read write', ...options });
}

export interface DeviceStart {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** RFC 8628 §3.1: a device authorization, asserting 200. */
export async function startDevice(h: Harness, c: TestClient, form: Record<string, string> = {}): Promise<DeviceStart> {
  const res = await h.as(c, '/device_authorization', form);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** RFC 8628 §3.4: one poll of the token endpoint. */
export const poll = (h: Harness, c: TestClient, deviceCode: string) => h.token(c, { grant_type: DEVICE_GRANT, device_code: deviceCode });

/** The user types `userCode` on the /device page (signed in as `agent`): the consent page, or the entry page again with an error. */
export async function enterCode(agent: Agent, userCode: string): Promise<Page> {
  const entry = await agent.get('/device');
  expect(entry.status, entry.body).toBe(200);
  return agent.post('/device', { csrf: field(entry.body, 'csrf'), user_code: userCode });
}

/** The user enters the code and decides: the final page (asserting each step). */
export async function decide(agent: Agent, userCode: string, decision: 'allow' | 'deny'): Promise<Page> {
  const consent = await enterCode(agent, userCode);
  expect(consent.status, consent.body).toBe(200);
  const done = await agent.post('/device', { csrf: field(consent.body, 'csrf'), user_code: field(consent.body, 'user_code'), decision });
  expect(done.status, done.body).toBe(200);
  return done;
}

/**
 * Resource indicators (RFC 8707) and token exchange (RFC 8693): the resources a client, a grant
 * and a code hold, a token's audience and act, and the tokens exchanged for a client on another
 * client's grant, which revoking either the grant or that client reaches.
 */
import type { Store } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { clientRecord, codeRecord, deviceCodeRecord, grantRecord, newId, tokenRecord, userRecord } from '../fixtures.js';
import { audit, type StoreRef } from './context.js';

const API = 'https://api.example/';
const OTHER = 'urn:example:other';

/** A front-end client's grant with a token sent to API, and a token exchanged from it for the API's own client. */
async function exchanged(store: Store) {
  const front = clientRecord();
  const api = clientRecord({ resources: [OTHER], exchangeAudiences: [API], grantTypes: ['urn:ietf:params:oauth:grant-type:token-exchange'] });
  const user = userRecord();
  await store.createClient(front, audit('client.created'));
  await store.createClient(api, audit('client.created'));
  await store.createUser(user, audit('user.created'));
  const grant = grantRecord(front.id, user.id, { resources: [API] });
  await store.saveGrant(grant, []);
  const subject = tokenRecord(grant, { audience: API });
  const exchange = tokenRecord(grant, {
    clientId: api.id, familyId: subject.familyId, audience: OTHER, exchangedFrom: subject.id, act: JSON.stringify({ sub: api.id, client_id: api.id }),
  });
  await store.issueTokens([subject], []);
  await store.issueTokens([exchange], [audit('token.exchanged')]);
  return { front, api, user, grant, subject, exchange };
}

export function resources(ref: StoreRef): void {
  describe('resource indicators and token exchange', () => {
    it('issueTokens writes an exchanged token only while its subject token is unrevoked (grant-revoked otherwise, nothing written)', async () => {
      const { store } = ref;
      const w = await exchanged(store);
      const again = () => tokenRecord(w.grant, { clientId: w.api.id, familyId: w.subject.familyId, audience: OTHER, exchangedFrom: w.subject.id });
      const live = again();
      expect(await store.issueTokens([live], [audit('token.exchanged')])).toBe('issued');
      await store.revoke({ family: w.subject.familyId!, grant: w.grant.id }, Date.now(), []);
      const late = again();
      expect(await store.issueTokens([late], [audit('token.exchanged')])).toBe('grant-revoked');
      expect(await store.getToken(late.id)).toBeUndefined();
      expect((await store.getToken(live.id))?.revokedAt).not.toBeNull();
    });

    it('a client keeps the resources it is registered with, and updateClient replaces them', async () => {
      const { store } = ref;
      const client = clientRecord({ resources: [API, OTHER] });
      await store.createClient(client, audit('client.created'));
      expect((await store.getClient(client.id))?.resources).toEqual([API, OTHER]);
      expect((await store.updateClient(client.id, { resources: [OTHER] }, [audit('client.updated')]))?.resources).toEqual([OTHER]);
      expect((await store.getClient(client.id))?.resources).toEqual([OTHER]);
      expect((await store.listClients()).find((c) => c.id === client.id)?.resources).toEqual([OTHER]);
    });

    it('a client keeps its exchange audiences apart from its resources; updateClient replaces either alone', async () => {
      const { store } = ref;
      const client = clientRecord({ resources: [OTHER], exchangeAudiences: [API, OTHER], grantTypes: ['urn:ietf:params:oauth:grant-type:token-exchange'] });
      await store.createClient(client, audit('client.created'));
      expect(await store.getClient(client.id)).toMatchObject({ resources: [OTHER], exchangeAudiences: [API, OTHER] });
      expect(await store.updateClient(client.id, { exchangeAudiences: [API] }, [audit('client.updated')])).toMatchObject({ resources: [OTHER], exchangeAudiences: [API] });
      expect(await store.updateClient(client.id, { resources: [] }, [audit('client.updated')])).toMatchObject({ resources: [], exchangeAudiences: [API] });
      expect(await store.getClient(client.id)).toMatchObject({ resources: [], exchangeAudiences: [API] });
      expect((await store.listClients()).find((c) => c.id === client.id)).toMatchObject({ resources: [], exchangeAudiences: [API] });
    });

    it('a grant keeps the resources consented to, widened by saveGrant; a code and a device code keep those their request named', async () => {
      const { store } = ref;
      const client = clientRecord();
      const user = userRecord();
      await store.createClient(client, audit('client.created'));
      await store.createUser(user, audit('user.created'));
      const grant = grantRecord(client.id, user.id, { resources: [API] });
      await store.saveGrant(grant, []);
      expect((await store.getGrant(grant.id))?.resources).toEqual([API]);
      await store.saveGrant({ ...grant, resources: [API, OTHER] }, []);
      expect((await store.findGrant(client.id, user.id))?.resources).toEqual([API, OTHER]);
      const code = codeRecord(grant, { resources: [OTHER] });
      await store.createCode(code, []);
      expect(await store.getCode(code.id)).toEqual(code);
      const device = deviceCodeRecord(client.id, { resources: [API, OTHER] });
      await store.createDeviceCode(device, []);
      expect(await store.getDeviceCode(device.id)).toEqual(device);
    });

    it('a token keeps its audience, act and the token it was exchanged from', async () => {
      const { store } = ref;
      const { subject, exchange } = await exchanged(store);
      expect(await store.getToken(subject.id)).toEqual(subject);
      expect(await store.getToken(exchange.id)).toEqual(exchange);
    });

    it('revoking the subject token\'s grant revokes the token exchanged from it, though issued to another client', async () => {
      const { store } = ref;
      const { grant, exchange } = await exchanged(store);
      const result = await store.revoke({ grant: grant.id }, Date.now(), [audit('token.revoked')]);
      expect(result.tokens).toBe(2);
      expect((await store.getToken(exchange.id))?.revokedAt).not.toBeNull();
    });

    it('revoking or deleting the exchanging client revokes the tokens exchanged for it on other clients\' grants, and only those', async () => {
      const { store } = ref;
      const one = await exchanged(store);
      const two = await exchanged(store);
      expect((await store.listTokens({ clientId: one.api.id })).map((t) => t.id)).toEqual([one.exchange.id]);
      const head = await store.feedHead();
      // After the exchange (a token issued at the revocation's time would get a token event too).
      const result = await store.revoke({ client: one.api.id }, Date.now() + 1, [audit('token.revoked')]);
      expect(result).toMatchObject({ tokens: 1, grants: 0 });
      expect((await store.getToken(one.exchange.id))?.revokedAt).not.toBeNull();
      // The subject token and the front end's grant are the front end's: untouched.
      expect((await store.getToken(one.subject.id))?.revokedAt).toBeNull();
      expect((await store.getGrant(one.grant.id))?.revokedAt).toBeNull();
      // Resource servers hear of it through the feed, by the client it was issued to.
      expect((await store.readFeed(head, 10)).map((e) => e.target)).toEqual([{ client: one.api.id }]);
      expect(await store.deleteClient(two.api.id, Date.now(), [audit('client.deleted')])).toMatchObject({ tokens: 1 });
      expect((await store.getToken(two.exchange.id))?.revokedAt).not.toBeNull();
      expect((await store.getToken(newId()))).toBeUndefined();
    });
  });
}

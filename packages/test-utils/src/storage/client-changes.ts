/**
 * Issue 11: a client changed in place (updateClient), a secret rotated with a grace period
 * (setClientSecret's previousUntil), and the replay records of client assertions (recordAssertion) and DPoP proofs
 * (recordDpopProof), and the secrets every instance shares (serverSecret).
 */
import type { CheckedCredentials, ClientRecord } from '@tessera/server';
import { describe, expect, it, vi } from 'vitest';
import { clientRecord, newHash, newId, tokenRecord } from '../fixtures.js';
import { appends, audit, type StoreRef, storedGrant } from './context.js';

const checkedOf = (client: ClientRecord): CheckedCredentials => ({ client: { id: client.id, secretHash: client.secretHash } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function clientChanges(ref: StoreRef): void {
  describe('client changes', () => {
    it('updateClient changes the given fields only, keeps id, secrets and creation time, and appends its audit record', async () => {
      const { store } = ref;
      const client = clientRecord({ accessTtl: 60 });
      await store.createClient(client, audit('client.created'));
      const changes = {
        name: 'renamed', scope: 'read', grantTypes: ['client_credentials' as const], redirectUris: [], accessTtl: null, tokenFormat: 'jwt' as const,
        idTokenSignedResponseAlg: 'ES256' as const, dpopBoundAccessTokens: true, resources: ['https://api.example/'], exchangeAudiences: ['https://front.example/'],
      };
      const updated = await appends(store, 1, () => store.updateClient(client.id, { ...changes, refreshTtl: undefined }, [audit('client.updated')]));
      const expected = { ...client, ...changes };
      expect(updated).toEqual(expected);
      expect(await store.getClient(client.id)).toEqual(expected);
      expect((await store.listClients()).find((c) => c.id === client.id)).toEqual(expected);
    });

    it('updateClient of an unknown id is undefined and appends nothing', async () => {
      const { store } = ref;
      expect(await appends(store, 0, () => store.updateClient(newId(), { name: 'x' }, [audit('client.updated')]))).toBeUndefined();
    });

    it('updateClient stores a JWK Set or its URI', async () => {
      const { store } = ref;
      const client = clientRecord({ secretHash: null, authMethod: 'private_key_jwt', jwksUri: 'https://app.example/jwks' });
      await store.createClient(client, audit('client.created'));
      expect(await store.getClient(client.id)).toEqual(client);
      const jwks = JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }] });
      expect(await store.updateClient(client.id, { jwks, jwksUri: null }, [])).toEqual({ ...client, jwks, jwksUri: null });
    });

    it('a change made through one store is seen through another within its bound, and its listeners hear of it', async () => {
      const { store } = ref;
      const other = await ref.connect();
      const client = clientRecord();
      await store.createClient(client, audit('client.created'));
      expect((await other.getClient(client.id))?.name).toBe('client');
      let heard = 0;
      other.onClientsChanged(() => heard++);
      await store.updateClient(client.id, { name: 'renamed' }, []);
      expect((await store.getClient(client.id))?.name).toBe('renamed');
      await vi.waitFor(async () => expect((await other.getClient(client.id))?.name).toBe('renamed'));
      await vi.waitFor(() => expect(heard).toBeGreaterThan(0));
      const hash = newHash();
      await store.setClientSecret(client.id, hash, [], Date.now() + 60_000);
      await vi.waitFor(async () => expect((await other.getClient(client.id))?.secretHash).toBe(hash));
    });

    it('setClientSecret with previousUntil keeps the replaced hash as the previous one until then', async () => {
      const { store } = ref;
      const client = clientRecord();
      await store.createClient(client, audit('client.created'));
      const [first, second] = [newHash(), newHash()];
      const until = Date.now() + 60_000;
      expect(await appends(store, 1, () => store.setClientSecret(client.id, first, [audit('client.secret_rotated')], until))).toBe(true);
      expect(await store.getClient(client.id)).toMatchObject({ secretHash: first, previousSecretHash: client.secretHash, previousSecretExpiresAt: until });
      // Rotating again: the secret before is replaced as the previous one.
      await store.setClientSecret(client.id, second, [], until);
      expect(await store.getClient(client.id)).toMatchObject({ secretHash: second, previousSecretHash: first });
      // Without a grace period: no previous secret.
      await store.setClientSecret(client.id, newHash(), []);
      expect(await store.getClient(client.id)).toMatchObject({ previousSecretHash: null, previousSecretExpiresAt: null });
      // A grace period already over is none.
      await store.setClientSecret(client.id, newHash(), [], Date.now() - 1);
      expect(await store.getClient(client.id)).toMatchObject({ previousSecretHash: null, previousSecretExpiresAt: null });
    });

    it('setClientSecret replaces a sealed secret (client_secret_jwt) and clears it when given none; createClient stores it', async () => {
      const { store } = ref;
      const client = clientRecord({ authMethod: 'client_secret_jwt', sealedSecret: 'v1.a.b.c' });
      await store.createClient(client, audit('client.created'));
      expect(await store.getClient(client.id)).toEqual(client);
      await store.setClientSecret(client.id, newHash(), [], undefined, 'v1.d.e.f');
      expect((await store.getClient(client.id))?.sealedSecret).toBe('v1.d.e.f');
      await store.setClientSecret(client.id, newHash(), []);
      expect((await store.getClient(client.id))?.sealedSecret).toBeNull();
    });

    it('a write checked with the previous secret succeeds within its grace period, and is credential-changed after it', async () => {
      const { store } = ref;
      const { client, grant } = await storedGrant(store);
      const checked = checkedOf(client);
      await store.setClientSecret(client.id, newHash(), [], Date.now() + 400);
      expect(await store.issueTokens([tokenRecord(grant)], [audit('token.issued')], undefined, checked)).toBe('issued');
      await sleep(500);
      const late = tokenRecord(grant);
      expect(await appends(store, 0, () => store.issueTokens([late], [audit('token.issued')], undefined, checked))).toBe('credential-changed');
      expect(await store.getToken(late.id)).toBeUndefined();
    });

    it("a write checked with a secret rotated without grace is 'credential-changed', whichever store wrote the rotation", async () => {
      const { store } = ref;
      const other = await ref.connect();
      const { client, grant } = await storedGrant(store);
      await other.setClientSecret(client.id, newHash(), []);
      expect(await store.issueTokens([tokenRecord(grant)], [], undefined, checkedOf(client))).toBe('credential-changed');
    });
  });

  describe('client assertion replay records', () => {
    it("recordAssertion: 'recorded' once, then 'replayed' through any store; jti values are per client", async () => {
      const { store } = ref;
      const other = await ref.connect();
      const [a, b, jti] = [newId(), newId(), newId()];
      const exp = Date.now() + 60_000;
      expect(await store.recordAssertion(a, jti, exp)).toBe('recorded');
      expect(await store.recordAssertion(a, jti, exp)).toBe('replayed');
      expect(await other.recordAssertion(a, jti, exp)).toBe('replayed');
      expect(await other.recordAssertion(b, jti, exp)).toBe('recorded');
    });

    it('racing records of one jti: exactly one is recorded', async () => {
      const { store } = ref;
      const stores = [store, await ref.connect(), await ref.connect()];
      const jti = newId();
      const outcomes = await Promise.all(stores.flatMap((s) => [s, s].map((x) => x.recordAssertion('c', jti, Date.now() + 60_000))));
      expect(outcomes.filter((o) => o === 'recorded')).toHaveLength(1);
    });

    it('sweepExpired deletes expired records and keeps live ones', async () => {
      const { store } = ref;
      const [old, live] = [newId(), newId()];
      await store.recordAssertion('c', old, Date.now() - 10);
      await store.recordAssertion('c', live, Date.now() + 60_000);
      expect(await store.sweepExpired(Date.now(), 1000)).toBeGreaterThanOrEqual(1);
      expect(await store.recordAssertion('c', old, Date.now() + 60_000)).toBe('recorded');
      expect(await store.recordAssertion('c', live, Date.now() + 60_000)).toBe('replayed');
    });
  });

  describe('DPoP proof replay records (RFC 9449 section 11.1)', () => {
    it("recordDpopProof: 'recorded' once, then 'replayed' through any store; jti values are per key", async () => {
      const { store } = ref;
      const other = await ref.connect();
      const [a, b, jti] = [newHash(), newHash(), newId()];
      const exp = Date.now() + 60_000;
      expect(await store.recordDpopProof(a, jti, exp)).toBe('recorded');
      expect(await store.recordDpopProof(a, jti, exp)).toBe('replayed');
      expect(await other.recordDpopProof(a, jti, exp)).toBe('replayed');
      expect(await other.recordDpopProof(b, jti, exp)).toBe('recorded');
    });

    it('racing records of one proof: exactly one is recorded', async () => {
      const { store } = ref;
      const stores = [store, await ref.connect(), await ref.connect()];
      const [jkt, jti] = [newHash(), newId()];
      const outcomes = await Promise.all(stores.flatMap((s) => [s, s].map((x) => x.recordDpopProof(jkt, jti, Date.now() + 60_000))));
      expect(outcomes.filter((o) => o === 'recorded')).toHaveLength(1);
    });

    it('sweepExpired deletes expired proof records and keeps live ones', async () => {
      const { store } = ref;
      const [jkt, old, live] = [newHash(), newId(), newId()];
      await store.recordDpopProof(jkt, old, Date.now() - 10);
      await store.recordDpopProof(jkt, live, Date.now() + 60_000);
      expect(await store.sweepExpired(Date.now(), 1000)).toBeGreaterThanOrEqual(1);
      expect(await store.recordDpopProof(jkt, old, Date.now() + 60_000)).toBe('recorded');
      expect(await store.recordDpopProof(jkt, live, Date.now() + 60_000)).toBe('replayed');
    });
  });

  describe('server secrets', () => {
    it('serverSecret keeps the first value stored under a name, whichever store asks, and audits its creation without the value', async () => {
      const { store } = ref;
      const other = await ref.connect();
      const [name, first, second] = [`k-${newId()}`, newHash(), newHash()];
      expect(await appends(store, 1, () => store.serverSecret(name, first))).toBe(first);
      expect(await appends(store, 0, () => store.serverSecret(name, second))).toBe(first);
      expect(await other.serverSecret(name, second)).toBe(first);
      const records = await store.readAudit(0, 10_000);
      const created = records.filter((r) => r.event === 'secret.created' && (r.data as { name?: string } | null)?.name === name);
      expect(created).toHaveLength(1);
      expect(JSON.stringify(records)).not.toContain(first);
    });

    it('racing first reads of a server secret: every store answers the same value', async () => {
      const { store } = ref;
      const stores = [store, await ref.connect(), await ref.connect()];
      const name = `k-${newId()}`;
      const values = await Promise.all(stores.flatMap((s) => [s, s].map((x) => x.serverSecret(name, newHash()))));
      expect(new Set(values).size).toBe(1);
    });
  });
}

import { clientRecord, grantRecord, tokenRecord } from '@tessera/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { tokenCensus } from './token-census.js';

describe('tokenCensus: one count of the tokens for the metrics and /stats', () => {
  let store: SqliteStore;
  let issue: () => Promise<unknown>;
  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    const client = clientRecord();
    await store.createClient(client, { event: 'client.created', actor: 'test' });
    const grant = grantRecord(client.id, null);
    await store.saveGrant(grant, []);
    issue = () => store.issueTokens([tokenRecord(grant)], []);
  });
  afterEach(() => store.close());

  it('callers within the interval share one count, and callers during a count share it', async () => {
    const census = tokenCensus(store);
    const read = () => census(60_000);
    await issue();
    const [a, b] = await Promise.all([read(), read()]);
    expect(a).toBe(b);
    await issue();
    expect(await read()).toBe(a);
    expect(a.census.byKind.access.active).toBe(1);
  });

  it('past the interval, a count younger than staleMs is answered at once while the next one runs', async () => {
    const census = tokenCensus(store);
    const read = () => census(0, 60_000);
    const first = await read();
    await issue();
    expect(await read()).toBe(first);
    await expect.poll(async () => (await read()).census.byKind.access.active).toBe(1);
  });

  it('without staleMs, every call past the interval waits for a new count', async () => {
    const census = tokenCensus(store);
    const read = () => census(0);
    await read();
    await issue();
    expect((await read()).census.byKind.access.active).toBe(1);
  });

  it('readers asking for different freshness share one count: a recent one serves both, an old one is counted once', async () => {
    const census = tokenCensus(store);
    const slow = () => census(60_000);
    const fast = () => census(0);
    const first = await fast();
    expect(await slow()).toBe(first);
    await issue();
    const [a, b] = await Promise.all([fast(), fast()]);
    expect(a).toBe(b);
    expect(a.census.byKind.access.active).toBe(1);
    expect(await slow()).toBe(a);
  });
});

import { clientRecord } from '@tessera/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { sharedVerification } from './shared-verification.js';

describe('sharedVerification: one full pass over the audit log at a time, shared', () => {
  let store: SqliteStore;
  // How many passes began: each reads the chains' heads once (verify-store.ts), so a count of those calls.
  let passes: number;
  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.createClient(clientRecord(), { event: 'client.created', actor: 'test' });
    passes = 0;
    const heads = store.auditHeads.bind(store);
    store.auditHeads = () => {
      passes++;
      return heads();
    };
  });
  afterEach(() => store.close());

  it('callers during a pass share it, and a completed pass is answered again within the bound', async () => {
    const verify = sharedVerification(store, 60_000);
    const [a, b, c] = await Promise.all([verify(false), verify(false), verify(false)]);
    expect(passes).toBe(1);
    expect(a).toBe(b);
    expect(a).toBe(c);
    expect(a.report).toEqual({ ok: true, records: 1 });
    await store.createClient(clientRecord(), { event: 'client.created', actor: 'test' });
    expect(await verify(false)).toBe(a);
    expect(passes).toBe(1);
  });

  it('fresh callers during a pass share the one queued behind it (begun after they asked); a fresh pass covers records the reused one did not', async () => {
    const verify = sharedVerification(store, 60_000);
    const first = verify(false);
    const [x, y] = await Promise.all([verify(true), verify(true)]);
    expect(x).toBe(y);
    expect(x).not.toBe(await first);
    expect(x.at).toBeGreaterThanOrEqual((await first).at);
    expect(passes).toBe(2);
    expect(await verify(false)).toBe(x);
    await store.createClient(clientRecord(), { event: 'client.created', actor: 'test' });
    expect((await verify(false)).report.records).toBe(1);
    expect((await verify(true)).report).toEqual({ ok: true, records: 2 });
    expect(passes).toBe(3);
  });

  it('past the bound, the next caller waits for a new pass', async () => {
    const verify = sharedVerification(store, 0);
    const a = await verify(false);
    expect(await verify(false)).not.toBe(a);
    expect(passes).toBe(2);
  });

  it('a pass that fails (the database away) is its callers\' error, never reused: the next caller begins another', async () => {
    const verify = sharedVerification(store, 60_000);
    const heads = store.auditHeads;
    store.auditHeads = () => Promise.reject(new Error('database away'));
    await expect(verify(false)).rejects.toThrow('database away');
    store.auditHeads = heads;
    expect((await verify(false)).report).toEqual({ ok: true, records: 1 });
  });
});

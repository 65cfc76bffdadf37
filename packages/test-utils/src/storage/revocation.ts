/**
 * revoke() by each target kind, and the deletions that revoke (deleteClient, deleteUser,
 * setPassword): exactly the covered tokens, grants and codes change, in one call.
 */
import type { AuditInput, CodeRecord, GrantRecord, RevocationTarget, Store, TokenRecord } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { clientRecord, codeRecord, grantRecord, HOUR, sessionRecord, tokenRecord, userRecord } from '../fixtures.js';
import { appends, audit, type StoreRef } from './context.js';

const MINUTE = 60_000;

/**
 * Two clients (A, B), two users (u1, u2), grants A×u1, A×u2, B×u1 and A's own (client
 * credentials) grant; tokens issued early (T) and late (T + 5 min), each with its own expiry;
 * unredeemed codes, and the redeemed code that started family f1.
 */
async function world(store: Store) {
  const T = Date.now() - 10 * MINUTE;
  const [A, B] = [clientRecord(), clientRecord()];
  const [u1, u2] = [userRecord(), userRecord()];
  for (const c of [A, B]) await store.createClient(c, audit('client.created'));
  for (const u of [u1, u2]) await store.createUser(u, audit('user.created'));
  const gA1 = grantRecord(A.id, u1.id);
  const gA2 = grantRecord(A.id, u2.id);
  const gB1 = grantRecord(B.id, u1.id);
  const gAc = grantRecord(A.id, null);
  for (const g of [gA1, gA2, gB1, gAc]) await store.saveGrant(g, []);

  const c1r = codeRecord(gA1, { issuedAt: T - MINUTE, redeemedAt: T });
  const f1 = c1r.id;
  const early = T;
  const late = T + 5 * MINUTE;
  const t = (grant: GrantRecord, issuedAt: number, expiresIn: number, over: Partial<TokenRecord> = {}) =>
    tokenRecord(grant, { issuedAt, expiresAt: issuedAt + expiresIn, ...over });
  const tokens = {
    a1: t(gA1, early, 1 * HOUR, { familyId: f1 }),
    r1: t(gA1, early, 24 * HOUR, { familyId: f1, kind: 'refresh' }),
    a1b: t(gA1, late, 2 * HOUR),
    a2: t(gA2, late, 3 * HOUR),
    r2: t(gA2, late, 48 * HOUR, { kind: 'refresh', familyId: 'f2' }),
    b1: t(gB1, early, 4 * HOUR),
    ac: t(gAc, late, 5 * HOUR),
  };
  await store.issueTokens(Object.values(tokens), []);
  const codes = {
    c1r,
    c1: codeRecord(gA1, { issuedAt: early }),
    c2: codeRecord(gA2, { issuedAt: late }),
    cB: codeRecord(gB1, { issuedAt: late }),
  };
  for (const c of Object.values(codes)) await store.createCode(c, []);
  return { T, A, B, u1, u2, grants: { gA1, gA2, gB1, gAc }, tokens, codes, f1 };
}

type World = Awaited<ReturnType<typeof world>>;
type TokenName = keyof World['tokens'];
type GrantName = keyof World['grants'];
type CodeName = keyof World['codes'];

interface Expected {
  tokens: TokenName[];
  grants: GrantName[];
  /** Codes the target covers, deleted: unredeemed ones, and a family's own code, redeemed or not. */
  codes: CodeName[];
}

/** Asserts that exactly the expected rows changed, and that the result counts them. */
async function expectOnly(store: Store, w: World, at: number, expected: Expected) {
  for (const [name, token] of Object.entries(w.tokens) as [TokenName, TokenRecord][]) {
    const revokedAt = (await store.getToken(token.id))?.revokedAt;
    expect({ token: name, revokedAt }).toEqual({ token: name, revokedAt: expected.tokens.includes(name) ? at : null });
  }
  for (const [name, grant] of Object.entries(w.grants) as [GrantName, GrantRecord][]) {
    const revokedAt = (await store.getGrant(grant.id))?.revokedAt;
    expect({ grant: name, revokedAt }).toEqual({ grant: name, revokedAt: expected.grants.includes(name) ? at : null });
  }
  for (const [name, code] of Object.entries(w.codes) as [CodeName, CodeRecord][]) {
    const found = (await store.getCode(code.id)) !== undefined;
    expect({ code: name, found }).toEqual({ code: name, found: !expected.codes.includes(name) });
  }
}

function resultFor(w: World, expected: Expected) {
  const revoked = expected.tokens.map((n) => w.tokens[n].expiresAt);
  return { tokens: revoked.length, grants: expected.grants.length, until: revoked.length ? Math.max(...revoked) : null };
}

const cases: { name: string; target: (w: World) => RevocationTarget; expected: Expected }[] = [
  { name: 'token', target: (w) => ({ token: w.tokens.a1.id }), expected: { tokens: ['a1'], grants: [], codes: [] } },
  // The family's redeemed code goes too: a replay after the first finds nothing (RFC 6749 §4.1.2).
  { name: 'family', target: (w) => ({ family: w.f1, grant: w.grants.gA1.id }), expected: { tokens: ['a1', 'r1'], grants: [], codes: ['c1r'] } },
  { name: 'grant', target: (w) => ({ grant: w.grants.gA1.id }), expected: { tokens: ['a1', 'r1', 'a1b'], grants: ['gA1'], codes: ['c1'] } },
  { name: 'user', target: (w) => ({ user: w.u1.id }), expected: { tokens: ['a1', 'r1', 'a1b', 'b1'], grants: ['gA1', 'gB1'], codes: ['c1', 'cB'] } },
  {
    name: 'client',
    target: (w) => ({ client: w.A.id }),
    expected: { tokens: ['a1', 'r1', 'a1b', 'a2', 'r2', 'ac'], grants: ['gA1', 'gA2', 'gAc'], codes: ['c1', 'c2'] },
  },
  { name: 'issuedBefore', target: (w) => ({ issuedBefore: w.T + MINUTE }), expected: { tokens: ['a1', 'r1', 'b1'], grants: [], codes: ['c1'] } },
];

export function revocation(ref: StoreRef): void {
  describe('revoke', () => {
    for (const c of cases) {
      it(`by ${c.name}: revokes exactly what it covers, deletes the codes it covers, returns counts and until`, async () => {
        const { store } = ref;
        const w = await world(store);
        const at = Date.now();
        const result = await appends(store, 1, () => store.revoke(c.target(w), at, [audit('token.revoked')]));
        expect(result).toEqual(resultFor(w, c.expected));
        await expectOnly(store, w, at, c.expected);
      });
    }

    it('counts only newly revoked tokens and keeps the first revocation time', async () => {
      const { store } = ref;
      const w = await world(store);
      const first = Date.now();
      await store.revoke({ token: w.tokens.a1.id }, first, []);
      const result = await store.revoke({ grant: w.grants.gA1.id }, first + 1000, []);
      expect(result).toEqual({ tokens: 2, grants: 1, until: Math.max(w.tokens.r1.expiresAt, w.tokens.a1b.expiresAt) });
      expect((await store.getToken(w.tokens.a1.id))?.revokedAt).toBe(first);
      expect((await store.getToken(w.tokens.r1.id))?.revokedAt).toBe(first + 1000);
    });

    it('revoking the same target again changes nothing and reports zero', async () => {
      const { store } = ref;
      const w = await world(store);
      const at = Date.now();
      await store.revoke({ client: w.A.id }, at, []);
      expect(await store.revoke({ client: w.A.id }, at + 1000, [])).toEqual({ tokens: 0, grants: 0, until: null });
      expect((await store.getGrant(w.grants.gA1.id))?.revokedAt).toBe(at);
      expect((await store.getToken(w.tokens.ac.id))?.revokedAt).toBe(at);
    });

    it('a target that covers nothing reports zero and still appends its audit records', async () => {
      const { store } = ref;
      await world(store);
      const result = await appends(store, 2, () => store.revoke({ user: 'nobody' }, Date.now(), [audit('a'), audit('token.revoked')]));
      expect(result).toEqual({ tokens: 0, grants: 0, until: null });
    });
  });

  describe('deletions revoke in the same call', () => {
    const userExpected: Expected = { tokens: ['a1', 'r1', 'a1b', 'b1'], grants: ['gA1', 'gB1'], codes: ['c1', 'cB'] };

    it('deleteClient deletes the client and revokes its grants, tokens and unredeemed codes', async () => {
      const { store } = ref;
      const w = await world(store);
      const at = Date.now();
      const expected: Expected = { tokens: ['a1', 'r1', 'a1b', 'a2', 'r2', 'ac'], grants: ['gA1', 'gA2', 'gAc'], codes: ['c1', 'c2'] };
      const result = await appends(store, 2, () => store.deleteClient(w.A.id, at, [audit('client.deleted'), audit('token.revoked')]));
      expect(result).toEqual(resultFor(w, expected));
      expect(await store.getClient(w.A.id)).toBeUndefined();
      expect(await store.getClient(w.B.id)).toEqual(w.B);
      await expectOnly(store, w, at, expected);
    });

    // Both end the user's standing: same revocations, same sessions ended; they differ in what
    // happens to the user row.
    it.each([
      ['deleteUser deletes the user', 'user.deleted', (store: Store, id: string, at: number, a: AuditInput[]) => store.deleteUser(id, at, a), undefined],
      ['setPassword replaces the password hash', 'user.password_changed', (store: Store, id: string, at: number, a: AuditInput[]) => store.setPassword(id, 'scrypt$new', at, a), 'scrypt$new'],
    ] as const)("%s, revokes the user's grants, tokens and codes, and ends their sessions", async (_name, event, act, hashAfter) => {
      const { store } = ref;
      const w = await world(store);
      const [s1, s2] = [sessionRecord(w.u1.id), sessionRecord(w.u2.id)];
      await store.createSession(s1);
      await store.createSession(s2);
      const at = Date.now();
      const result = await appends(store, 2, () => act(store, w.u1.id, at, [audit(event), audit('token.revoked')]));
      expect(result).toEqual(resultFor(w, userExpected));
      expect((await store.getUser(w.u1.id))?.passwordHash).toBe(hashAfter);
      expect(await store.getUser(w.u2.id)).toEqual(w.u2);
      expect(await store.findSessionByHash(s1.hash)).toBeUndefined();
      expect(await store.findSessionByHash(s2.hash)).toEqual(s2);
      await expectOnly(store, w, at, userExpected);
    });
  });
}

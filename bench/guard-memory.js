#!/usr/bin/env node
/**
 * Memory held by the guard's revoked set with N live token revocations (ids as the server makes
 * them: 128 random bits, hex), and the cost of a lookup at that size. Run by bench/guard.js in
 * its own process with --expose-gc; prints one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { RevocationSet } from '../packages/guard/dist/revocations.js';

const n = Number(process.argv[2] ?? 1_000_000);
const gc = globalThis.gc;
if (!gc) throw new Error('run with --expose-gc');
const settle = () => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
};

const now = Date.now();
const set = new RevocationSet(5);
const before = settle();
for (let i = 0; i < n; i++) {
  set.add({ cursor: i + 1, type: 'token', value: randomBytes(16).toString('hex'), at: now, until: now + 3_600_000 });
}
const after = settle();

const probe = { jti: randomBytes(16).toString('hex'), sub: 's', clientId: 'c', iat: Math.floor(now / 1000) - 10 };
const lookups = 1_000_000;
const t0 = process.hrtime.bigint();
for (let i = 0; i < lookups; i++) set.check(probe, Math.floor(now / 1000));
const ns = Number(process.hrtime.bigint() - t0) / lookups;

console.log(JSON.stringify({ entries: set.size.tokens, heapBytes: after - before, bytesPerEntry: Math.round((after - before) / n), lookupNs: Math.round(ns) }));

#!/usr/bin/env node
/**
 * What one group commit of the SQLite writer costs, without HTTP: the store's own write methods
 * (writes.ts) and group commit (group-commit.ts) on a fresh file with synchronous=full, called in
 * a loop. Counts the WAL frames (4 KiB pages) each commit writes, which is what the index layout
 * decides, the time per commit, and the CPU time per commit (user + system, fsync's included):
 * steadier than the time on a shared machine, and what the writer thread spends per commit.
 *
 *   npm run bench:commits [-- --commits 1000 --baseline DIR --save]
 *
 * Two workloads, as `npm run bench` produces them:
 *   client_credentials  14 tokens per commit, one audit record each, all on one client's grant;
 *   refresh             16 rotations per commit from 16 chains, one user (grant) per chain:
 *                       the old refresh token consumed, two tokens and one audit record (as
 *                       the engine writes a rotation since issue 14), and again with the three
 *                       records it wrote before.
 * --baseline DIR measures the same on Tessera built in another checkout too (a git worktree of an
 * earlier commit, `npx tsc -b` there): the schema and write methods there against the ones here.
 * --save writes the table to bench/results/DATE-commits.txt.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { commits: { type: 'string', default: '1000' }, baseline: { type: 'string' }, save: { type: 'boolean' } } });
const commits = Number(values.commits);
if (!Number.isInteger(commits) || commits < 1) throw new Error('--commits must be a positive integer');

/** The store's modules, as built in the checkout at `dir`. */
async function build(dir) {
  const load = (file) => import(pathToFileURL(join(dir, 'packages/server/dist', file)).href);
  const [{ SqliteStore }, { openConnection }, { GroupCommit }, { SqliteWrites }, { randomId }] = await Promise.all(
    ['store/sqlite/sqlite-store.js', 'store/sqlite/connection.js', 'store/sqlite/group-commit.js', 'store/sqlite/writes.js', 'secrets.js'].map(load),
  );
  return { SqliteStore, openConnection, GroupCommit, SqliteWrites, randomId };
}

const HOUR = 3_600_000;
const token = (m, grant, kind, familyId, parentId) => {
  const id = m.randomId();
  const now = Date.now();
  return {
    id, hash: 'x'.repeat(43), kind, format: 'opaque', grantId: grant.id, familyId: familyId ?? id, parentId,
    clientId: grant.clientId, userId: grant.userId, scope: 'read', issuedAt: now, expiresAt: now + HOUR, revokedAt: null, consumedAt: null, dpopJkt: null,
    // A user's refresh token keeps the time of the sign-in its code came from (OIDC auth_time).
    authTime: kind === 'refresh' && grant.userId !== null ? now - HOUR : null,
    audience: null, act: null, exchangedFrom: null,
  };
};
const issued = (t) => ({ event: 'token.issued', actor: `client:${t.clientId}`, clientId: t.clientId, userId: t.userId, grantId: t.grantId, tokenId: t.id, endpoint: '/token', data: { kind: t.kind, scope: t.scope } });

/** A store file with one client and `users` users, each with a grant; then a bare writer on it. */
async function setup(m, dir, users) {
  const { randomId } = m;
  const path = join(dir, `${randomId()}.db`);
  const store = new m.SqliteStore({ path });
  const client = {
    id: randomId(), name: 'bench', secretHash: 'h', previousSecretHash: null, previousSecretExpiresAt: null, authMethod: 'client_secret_basic',
    grantTypes: ['client_credentials', 'refresh_token'], redirectUris: [], postLogoutRedirectUris: [], scope: 'read', resources: [], exchangeAudiences: [], tokenFormat: 'opaque', idTokenSignedResponseAlg: 'RS256',
    accessTtl: null, refreshTtl: null, jwks: null, jwksUri: null, sealedSecret: null, registrationTokenHash: null, dpopBoundAccessTokens: false, createdAt: Date.now(),
  };
  await store.createClient(client, { event: 'client.created', actor: 'bench' });
  const grants = [];
  for (let i = 0; i < Math.max(users, 1); i++) {
    const user = users === 0 ? null : { id: randomId(), username: `u${i}`, passwordHash: 'x', name: null, email: null, emailVerified: false, createdAt: Date.now() };
    if (user) await store.createUser(user, { event: 'user.created', actor: 'bench' });
    const grant = { id: randomId(), clientId: client.id, userId: user?.id ?? null, scope: 'read', resources: [], createdAt: Date.now(), revokedAt: null };
    await store.saveGrant(grant, []);
    grants.push(grant);
  }
  await store.close();
  const db = m.openConnection(path, 'full');
  // The WAL grows through the measurement, so its frame count is what the commits wrote.
  db.pragma('wal_autocheckpoint = 0');
  const writes = new m.SqliteWrites(db);
  // Since issue 14 the writes keep the audit head in memory, written when the group commits
  // (writes.transaction); a baseline from before takes no such state.
  const group = writes.transaction ? new m.GroupCommit(db, writes.transaction) : new m.GroupCommit(db);
  return { db, writes, group, grants };
}

function measure(name, perCommit, { db, group }, step) {
  for (let i = 0; i < 200; i++) group.commitNow(step());
  db.pragma('wal_checkpoint(TRUNCATE)');
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < commits; i++) group.commitNow(step());
  const us = Number(process.hrtime.bigint() - start) / commits / 1e3;
  const { user, system } = process.cpuUsage(cpuStart);
  const cpu = (user + system) / commits;
  const frames = db.pragma('wal_checkpoint(PASSIVE)')[0].log / commits;
  db.close();
  const µs = (n) => `${Math.round(n).toLocaleString('en-US')} µs`;
  return `| ${name} | ${perCommit} | ${frames.toFixed(1)} | ${µs(us)} | ${µs(cpu)} |`;
}

/** One table row per workload for the build `m`. */
async function rows(m, label, dir) {
  const cc = await setup(m, dir, 0);
  const [grant] = cc.grants;
  const ccRow = measure(`${label}: client_credentials tokens`, 14, cc, () =>
    Array.from({ length: 14 }, () => {
      const t = token(m, grant, 'access');
      return () => cc.writes.issueTokens([t], [issued(t)]);
    }),
  );
  // A rotation's audit: one token.rotated naming the new pair, as the engine writes it since issue
  // 14 (lifecycle/mint.ts rotatedEvent), or the three records it wrote before.
  const oneRecord = (old, access, refresh) => [
    { ...issued(old), event: 'token.rotated', data: { family: old.familyId, access: { id: access.id, format: 'opaque', scope: access.scope, exp: access.expiresAt }, refresh: { id: refresh.id, format: 'opaque', scope: refresh.scope, exp: refresh.expiresAt } } },
  ];
  const threeRecords = (old, access, refresh) => [{ ...issued(old), event: 'token.rotated' }, issued(access), issued(refresh)];
  const rotations = async (name, audit) => {
    const rf = await setup(m, dir, 16);
    const chains = rf.grants.map((g) => ({ grant: g, family: m.randomId(), last: token(m, g, 'refresh', null, null) }));
    for (const c of chains) c.last.familyId = c.family;
    rf.group.commitNow(chains.map((c) => () => rf.writes.issueTokens([c.last], [])));
    return measure(`${label}: ${name}`, 16, rf, () =>
      chains.map((c) => {
        const old = c.last;
        const access = token(m, c.grant, 'access', c.family, old.id);
        const refresh = token(m, c.grant, 'refresh', c.family, old.id);
        c.last = refresh;
        return () => rf.writes.rotateRefresh(old.id, Date.now(), null, [access, refresh], audit(old, access, refresh));
      }),
    );
  };
  return [
    ccRow,
    await rotations('refresh rotations (16 chains, 16 grants), one audit record each', oneRecord),
    await rotations('refresh rotations, three audit records each (before issue 14)', threeRecords),
  ];
}

/** The checkout's commit, to name the baseline in the table. */
function commitOf(checkout) {
  try {
    return execFileSync('git', ['-C', checkout, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return checkout;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tessera-commits-'));
try {
  const measured = [...(await rows(await build(root), 'this checkout', dir))];
  if (values.baseline) measured.push(...(await rows(await build(values.baseline), `baseline ${commitOf(values.baseline)}`, dir)));
  const table = [
    `# npm run bench:commits -- --commits ${commits}${values.baseline ? ' --baseline DIR' : ''}: ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, synchronous=full, mean of ${commits} commits after 200 of warm-up`,
    '| workload | writes per commit | WAL frames per commit | time per commit | CPU per commit |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...measured,
  ].join('\n');
  console.log(table);
  if (values.save) {
    const out = join(root, 'bench/results', `${new Date().toISOString().slice(0, 10)}-commits.txt`);
    writeFileSync(out, `${table}\n`);
    console.log(`saved ${relative(root, out)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The guard scenario: verification of a JWT access token in-process (no HTTP), with 64
 * verifications in flight — Tessera's guard (signature, claims, revoked-set check, scope) against
 * jose.jwtVerify alone and raw node:crypto ES256 signature verification of the same token.
 *
 * Starts `tessera serve` (JWT client, and a guard client with `tessera:revocations
 * tessera:introspect`), mints a token to verify and `revoked` more that it revokes (so the guard's
 * revoked set is not empty), then forks guard-child.js, which does the measuring.
 *
 * If packages/guard is not built, the scenario is skipped and says so (`skipped`).
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintTokens } from './http.js';
import { track } from './processes.js';
import { start } from './servers.js';

const here = dirname(fileURLToPath(import.meta.url));
const mean = (xs) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);

export const GUARD_ROWS = {
  guard: '@tessera/guard verifyToken (signature, claims, revoked set, scope)',
  jose: 'jose.jwtVerify alone (signature, claims)',
  'raw-async': 'node:crypto ES256 verify, async (threadpool)',
  'raw-sync': 'node:crypto ES256 verify, synchronous',
};

export async function runGuardScenario({ duration, warmup, rounds, inFlight = 64, revoked = 1000, dir, log }) {
  try {
    await import('@tessera/guard');
  } catch (e) {
    // TODO(issue 5): the guard row needs packages/guard built (`tsc -b`); until then it is skipped.
    return { id: 'guard', title: 'guard verification, in-process', skipped: `@tessera/guard could not be loaded: ${e.message}` };
  }
  const server = await start('tessera', { format: 'jwt', guard: true }, dir);
  let child = null;
  try {
    const [token, ...toRevoke] = await mintTokens(server, revoked + 1);
    const revokeOne = async (t) => {
      const res = await fetch(server.url + server.paths.revoke, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: server.auth }, body: `token=${t}` });
      if (res.status !== 200) throw new Error(`revocation answered ${res.status}`);
    };
    for (let i = 0; i < toRevoke.length; i += 32) await Promise.all(toRevoke.slice(i, i + 32).map(revokeOne));
    const config = { url: server.url, client: { id: server.guardClient.id, secret: server.guardClient.secret }, token, revokedToken: toRevoke[0], seconds: duration, warmup, rounds, inFlight };
    const forked = fork(join(here, 'guard-child.js'), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child = track(forked);
    const result = await new Promise((resolve, reject) => {
      let message = null;
      forked.once('message', (m) => {
        message = m;
      });
      forked.once('error', reject);
      forked.once('exit', (code) => (message ? resolve(message) : reject(new Error(`guard child exited with ${code}`))));
    });
    const rows = Object.fromEntries(Object.entries(result.rows).map(([k, xs]) => [k, { label: GUARD_ROWS[k], ops_s: mean(xs), rounds: xs }]));
    for (let r = 0; r < rounds; r++) log(`  round ${r + 1}  ${Object.entries(result.rows).map(([k, xs]) => `${k} ${xs[r]}/s`).join('  ')}`);
    return { id: 'guard', title: 'guard verification, in-process', in_flight: inFlight, revoked_set: result.revokedSet, rows };
  } finally {
    await child?.stop();
    await server.stop();
  }
}

/**
 * Child process of the guard scenario (forked by guard-scenario.js, so the measurement runs in a
 * process of its own): verifies one ES256 JWT access token over and over, in-process, with
 * `inFlight` verifications outstanding, for `seconds` per run, four ways:
 *
 *   guard       @tessera/guard's verifyToken: signature, typ/iss/aud/exp, revoked-set check (the
 *               set holds the revocations made before the run), scope
 *   jose        jose.jwtVerify alone, with the imported key and the same claim checks
 *   raw-async   node:crypto ES256 verify of the signature only, async (libuv threadpool)
 *   raw-sync    node:crypto ES256 verify of the signature only, synchronous (one core)
 *
 * interleaved (guard, jose, raw-async, raw-sync, guard, …) for `rounds` rounds, each run after a
 * short warm-up. Sends { rows: { name: [ops/s per round] }, revokedSet } to the parent.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { promisify } from 'node:util';
import { createGuard } from '@tessera/guard';
import { importJWK, jwtVerify } from 'jose';
import { signingJwk } from './jwks.js';
import { opsPerSecond as measure, syncOpsPerSecond } from './ops.js';

const { url, client, token, revokedToken, seconds, warmup, rounds, inFlight } = JSON.parse(process.argv[2]);
const opsPerSecond = (fn, s) => measure(fn, s, inFlight);

const guard = createGuard({ issuer: url, audience: url, client });
try {
  await guard.ready();
  const jwk = await signingJwk(url, token);
  const key = await importJWK(jwk, 'ES256');
  const [h, p, sig] = token.split('.');
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(sig, 'base64url');
  const publicKey = { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' };
  const verifyAsync = promisify(cryptoVerify);
  const joseOptions = { issuer: url, audience: url, typ: 'at+jwt', algorithms: ['ES256'] };

  if (!(await guard.verifyToken(token, ['read'])).ok) throw new Error('the guard refused the live token');
  if ((await guard.verifyToken(revokedToken, ['read'])).ok) throw new Error('the guard accepted a revoked token');
  await jwtVerify(token, key, joseOptions);
  if (!cryptoVerify('sha256', data, publicKey, signature)) throw new Error('node:crypto did not verify the token');

  const rows = {
    guard: (s) => opsPerSecond(() => guard.verifyToken(token, ['read']), s),
    jose: (s) => opsPerSecond(() => jwtVerify(token, key, joseOptions), s),
    'raw-async': (s) => opsPerSecond(() => verifyAsync('sha256', data, publicKey, signature), s),
    'raw-sync': async (s) => syncOpsPerSecond(() => cryptoVerify('sha256', data, publicKey, signature), s),
  };
  const results = Object.fromEntries(Object.keys(rows).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(rows)) {
      if (warmup > 0) await run(warmup);
      results[name].push(await run(seconds));
    }
  }
  process.send({ rows: results, revokedSet: guard.status().revoked });
} finally {
  await guard.close();
}

/**
 * The README's cross-process examples run verbatim (the code between the client-lock-example and
 * client-redis-example markers), each in four Node processes at once on a store whose token has
 * expired: one refresh at Tessera, every process served. Then the file example with the grant
 * revoked: it tells the user to sign in again.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenStore } from '@tessera/client';
import { FileTokenStore } from '@tessera/client/file-store';
import { RedisTokenStore } from '@tessera/client/redis';
import { createClient } from 'redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ResourceServer, startResourceServer } from './client/resource-server.js';
import { rotations, sessionFor, signIn } from './client/tessera.js';
import { useServer } from './flows.js';
import { readmeCode, root } from './readme-kit.js';

const h = useServer();
let rs: ResourceServer;
let dir: string;
let redis: ReturnType<typeof createClient>;
const prefix = `tessera-readme:${process.pid}:${Date.now()}:`;
beforeAll(async () => {
  rs = await startResourceServer(h);
  dir = mkdtempSync(join(tmpdir(), 'tessera-readme-lock-'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  redis = createClient({ url: 'redis://127.0.0.1:6379' });
  await redis.connect();
});
afterAll(async () => {
  await rs?.close();
  rmSync(dir, { recursive: true, force: true });
  const keys = await redis?.keys(`${prefix}*`);
  if (keys?.length) await redis.del(keys);
  await redis?.close();
});

/** Runs the example `copies` times at once in `dir`; each one's exit code and output. */
async function run(name: string, env: Record<string, string>, copies: number) {
  writeFileSync(join(dir, `${name}.mjs`), readmeCode(name, 'js').replaceAll('http://127.0.0.1:9000', h.server.url));
  return Promise.all(
    Array.from({ length: copies }, async () => {
      const child = spawn(process.execPath, [`${name}.mjs`], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      // 'close': the output is complete (at 'exit' the pipes may still hold some).
      const [code] = await once(child, 'close');
      return { code, out: out.trim() };
    }),
  );
}

/** A signed-in user whose token in `store` (under `key`) has expired. */
async function expiredIn(store: TokenStore, key?: string) {
  const c = await h.codeClient();
  const token = await signIn(h, sessionFor(h, c, { store, storeKey: key }));
  await store.set(key ?? c.id, { ...token, expires_at: Math.floor(Date.now() / 1000) - 60 });
  return { c, token, env: { CLIENT_ID: c.id, CLIENT_SECRET: c.secret as string, API_URL: `${rs.url}/data` } };
}

it('the README file-lock example, in 4 processes at once on tokens.json with an expired token: one refresh, all served; revoked: "sign in again"', async () => {
  const store = new FileTokenStore(join(dir, 'tokens.json'));
  const { c, token, env } = await expiredIn(store);
  expect(await run('client-lock-example', env, 4)).toEqual(Array(4).fill({ code: 0, out: 'status 200' }));
  expect(await rotations(h, c)).toBe(1);

  await h.revoke(c, (await store.get(c.id))?.refresh_token as string, 'refresh_token');
  await store.set(c.id, { ...(await store.get(c.id)), access_token: token.access_token, token_type: 'Bearer', expires_at: Math.floor(Date.now() / 1000) - 60 });
  expect(await run('client-lock-example', env, 1)).toEqual([{ code: 0, out: 'sign in again: ERR_REAUTHENTICATION_REQUIRED' }]);
});

it('the README Redis example, in 4 processes at once on an expired token: one refresh, all served', async () => {
  const store = new RedisTokenStore(redis, { prefix });
  const { c, env } = await expiredIn(store, 'alice');
  expect(await run('client-redis-example', { ...env, PREFIX: prefix }, 4)).toEqual(Array(4).fill({ code: 0, out: 'status 200' }));
  expect(await rotations(h, c)).toBe(1);
});

/**
 * A PostgreSQL 15 cluster of the test's own, on a free loopback port, for suites that stop and
 * restart it: the machine's shared server (TESSERA_TEST_PG) serves other test files meanwhile and
 * must never be restarted. initdb refuses root, so the cluster runs as the postgres user.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './helpers.js';

const run = promisify(execFile);

/** The bin directory of the newest PostgreSQL installed (Debian layout). */
function binDir(): string {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)) : [];
  const bin = versions.map((v) => `/usr/lib/postgresql/${v}/bin`).find((d) => existsSync(join(d, 'initdb')));
  if (!bin) throw new Error('no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (install postgresql-15, see DEVELOPERS.md)');
  return bin;
}

export interface PrivateCluster {
  /** postgres:// URL of the database `name` (not created) on this cluster. */
  url(name: string): string;
  /** pg_ctl stop: 'immediate' is a crash (recovery at the next start), 'fast' a clean shutdown. */
  stop(mode: 'immediate' | 'fast'): Promise<void>;
  /** pg_ctl start, waiting until it accepts connections. */
  start(): Promise<void>;
  /** Stops the cluster if it runs and deletes its directory. */
  destroy(): Promise<void>;
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const { uid, gid } = await run('id', ['-u', 'postgres']).then(async ({ stdout }) => ({ uid: Number(stdout), gid: Number((await run('id', ['-g', 'postgres'])).stdout) }));
  chownSync(dir, uid, gid);
  const asPostgres = (args: string[]) => run('runuser', ['-u', 'postgres', '--', ...args], { timeout: 60_000 });
  const pgCtl = (args: string[]) => asPostgres([join(bin, 'pg_ctl'), '-D', data, ...args]);
  // No fsync: the machine does not crash here, only PostgreSQL; its WAL still makes recovery whole.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60 -c shared_buffers=16MB`;
  const cluster: PrivateCluster = {
    url: (name) => `postgres://postgres@127.0.0.1:${port}/${name}`,
    async stop(mode) {
      await pgCtl(['-m', mode, '-w', 'stop']);
    },
    async start() {
      await pgCtl(['-o', options, '-l', join(dir, 'log'), '-w', 'start']);
    },
    async destroy() {
      await pgCtl(['-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await asPostgres([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await cluster.start();
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}

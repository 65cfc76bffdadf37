/** Issue 9, defect 1, for programs that embed the server: a data file others can read is reported. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@tessera/server';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts and stops the server on a data file of `mode`; the warnings it logged. */
async function warningsFor(mode: number): Promise<Array<{ msg: string; files?: string[] }>> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-library-'));
  dirs.push(dir);
  const db = join(dir, 'tessera.db');
  // An empty file is a valid, empty SQLite database: as an older Tessera or a copy might leave it.
  writeFileSync(db, '');
  chmodSync(db, mode);
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  const server = await startServer({ db, port: 0, host: '127.0.0.1', synchronous: 'normal', logger });
  await server.close();
  return lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40);
}

describe('startServer on a data file other users can read', () => {
  it('warns, naming the file and the chmod that fixes it (the CLI refuses such a file)', async () => {
    const warnings = await warningsFor(0o644);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/other users can read it: chmod 600/);
    expect(warnings[0]?.files?.[0]).toMatch(/tessera\.db$/);
  });

  it('says nothing about a private (0600) data file', async () => {
    expect(await warningsFor(0o600)).toEqual([]);
  });
});

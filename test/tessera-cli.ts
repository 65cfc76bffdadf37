/** Runs the `tessera` CLI as a real process on a test server's data file. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const bin = join(import.meta.dirname, '..', 'packages', 'server', 'bin', 'tessera.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `tessera …args` on `db`, with `input` on stdin, to completion. */
export function runTessera(db: string, args: string[], input = ''): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, TESSERA_DB: db, TESSERA_LOG_LEVEL: 'warn' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

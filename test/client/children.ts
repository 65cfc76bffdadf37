/** Node child processes running client code (ES modules importing the built packages), for the cross-process tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');

export interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp): Promise<string>;
  /** Writes a line to the child's stdin. */
  send(line: string): void;
  /** Resolves when the child exits: its code and all it printed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Runs `code` as an ES module from the repository root (so `@tessera/*` resolve to the built packages). */
export function nodeChild(code: string, env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: root, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of [...waiters]) {
      const m = stdout.split('\n').find((l) => w.pattern.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // 'close': the output is complete (at 'exit' the pipes may still hold some).
  const exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr }));
  return {
    process: child,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const m = stdout.split('\n').find((l) => pattern.test(l));
        if (m !== undefined) return resolve(m);
        waiters.push({ pattern, resolve });
        void exited.then((r) => reject(new Error(`child exited (${r.code}) before printing ${pattern}:\n${r.stdout}\n${r.stderr}`)));
      }),
    send: (line) => child.stdin.write(`${line}\n`),
    exited,
  };
}

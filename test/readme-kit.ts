/** The README's examples, by section, as the README tests run them. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consent } from './client/tessera.js';
import type { Harness } from './flows.js';

export const root = join(import.meta.dirname, '..');

/** The ```sh blocks between `<!-- NAME:start -->` and `<!-- NAME:end -->`, joined into one script. */
export const readmeSection = (name: string): string => readmeCode(name, 'sh');

/** The ```LANG blocks between `<!-- NAME:start -->` and `<!-- NAME:end -->`, joined. */
export function readmeCode(name: string, lang: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = new RegExp(`<!-- ${name}:start -->([\\s\\S]*?)<!-- ${name}:end -->`).exec(readme)?.[1];
  const code = section && [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]).join('\n');
  if (!code) throw new Error(`README has no ${name} section with ${lang} code`);
  return code;
}

/**
 * Runs a README example of a client signing a user in, as a user would run it: `code` as an ES
 * module in a directory of its own (the repository's node_modules linked in, so it imports the
 * built packages), with `env`. The test plays the user: it consents at the URL the example prints
 * after "Sign in at:" and pastes the redirect URL back on stdin. `inspect` runs on the directory
 * before it is removed.
 */
export function runSignInExample(
  h: Harness, code: string, env: Record<string, string | undefined>, inspect?: (dir: string) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runPromptedExample(code.replaceAll('http://127.0.0.1:9000', h.server.url), env, (url) => consent(h, url), inspect);
}

/**
 * The same for any server: `signIn` plays the user at the URL printed after "Sign in at:" and
 * returns the redirect URL to paste back.
 */
export async function runPromptedExample(
  code: string, env: Record<string, string | undefined>, signIn: (url: string) => Promise<string>, inspect?: (dir: string) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-readme-example-'));
  try {
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'example.mjs'), code);
    const child = spawn(process.execPath, ['example.mjs'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // 'close': the output is complete (at 'exit' the pipes may still hold some).
    const exited = once(child, 'close');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const m = /Sign in at: (\S+)/.exec(stdout);
        if (m) resolve(m[1] as string);
      });
      child.on('exit', () => reject(new Error(`example exited early:\n${stdout}\n${stderr}`)));
    });
    child.stdin.end(`${await signIn(url)}\n`);
    const [exitCode] = (await exited) as [number | null];
    inspect?.(dir);
    return { code: exitCode, stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The README's client example is a contract: the code between the client-example markers runs
 * verbatim under Node against a real server, as a user would run it (with the built package).
 * The test plays the user: it opens the printed URL, consents, and pastes the redirect URL back.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { consent } from './client/tessera.js';
import { useServer } from './flows.js';

const root = join(import.meta.dirname, '..');

function example(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = /<!-- client-example:start -->([\s\S]*?)<!-- client-example:end -->/.exec(readme)?.[1];
  const code = section && /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README has no client example');
  return code;
}

const h = useServer();

it('the README client example runs verbatim: sign in, introspect, refresh, logout, tokens in a file', async () => {
  const c = await h.codeClient({ redirectUris: ['http://127.0.0.1:8080/callback'], scope: 'read write' });
  const dir = mkdtempSync(join(tmpdir(), 'tessera-client-readme-'));
  try {
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'example.mjs'), example().replaceAll('http://127.0.0.1:9000', h.server.url));
    const child = spawn(process.execPath, ['example.mjs'], { cwd: dir, env: { ...process.env, CLIENT_ID: c.id, CLIENT_SECRET: c.secret }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = once(child, 'exit');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const m = /Sign in at: (\S+)/.exec(stdout);
        if (m) resolve(m[1] as string);
      });
      child.on('exit', () => reject(new Error(`example exited early:\n${stdout}\n${stderr}`)));
    });
    child.stdin.end(`${await consent(h, url)}\n`);
    const [code] = await exited;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('active: true scope: read');
    expect(stdout.match(/token updated, expires at \d+/g)).toHaveLength(2);
    // logout() forgot the tokens: the file store holds none for this client.
    expect(JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8'))).toEqual({});
    const events = (await h.store.readAudit(0, 1_000_000)).filter((r) => r.clientId === c.id).map((r) => r.event);
    expect(events).toEqual(expect.arrayContaining(['token.rotated', 'token.revoked']));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

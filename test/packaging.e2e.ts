/**
 * The packages work outside this repository, as a user gets them: each published package is
 * packed with `npm pack` and installed from its tarball (with only the published siblings it
 * declares) into its own fresh project in a temporary directory, and there:
 * - `npx tessera --help` runs, and `tessera serve` from the installed @tessera/server serves;
 * - the README's client example runs verbatim against it, with @tessera/client alone installed;
 * - the README's guard example ("Protecting an API"), in an Express app, accepts a token and
 *   refuses it once revoked, with @tessera/guard and express alone installed.
 *
 * Run by `npm run test:packaging` (and .ci/run), not by `npm test`: it installs third-party
 * dependencies from the registry (from npm's cache when they are there) and takes tens of seconds.
 * better-sqlite3 is asked for at the version this repository built, and its compiled binary is
 * reused instead of compiling it again for a minute.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent, field } from './agent.js';

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);
const REDIRECT_URI = 'http://127.0.0.1:8080/callback';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
}

const manifests = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces.map((dir) => ({
  dir,
  manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest,
}));
const published = manifests.filter((p) => !p.manifest.private);

function installedVersion(name: string): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The package and the siblings it declares, transitively: what a user installs from tarballs. */
function withSiblings(name: string): string[] {
  const found = new Set<string>();
  const visit = (n: string) => {
    if (found.has(n)) return;
    found.add(n);
    const manifest = manifests.find((p) => p.manifest.name === n)?.manifest;
    for (const dep of Object.keys(manifest?.dependencies ?? {})) if (manifests.some((p) => p.manifest.name === dep)) visit(dep);
  };
  visit(name);
  return [...found];
}

/**
 * What a user installs from tarballs: the package and the siblings it declares. The client alone,
 * whatever it declares, as the issue's user did (it failed with E404 @tessera/core): it runs in
 * browsers and workers and must need no other Tessera package.
 */
function installSet(name: string): string[] {
  return name === '@tessera/client' ? [name] : withSiblings(name);
}

function readmeBlock(pattern: RegExp, what: string): string {
  const code = pattern.exec(readFileSync(join(root, 'README.md'), 'utf8'))?.[1];
  if (!code) throw new Error(`README has no ${what}`);
  return code;
}

const clientExample = () => readmeBlock(/<!-- client-example:start -->[\s\S]*?```js\n([\s\S]*?)```/, 'client example');
const guardExample = () => readmeBlock(/## Protecting an API[^\n]*\n[\s\S]*?```ts\n([\s\S]*?)```/, "guard example under 'Protecting an API'");

let work: string;
const tarballs = new Map<string, string>();
const projects = new Map<string, string>();
const children: ChildProcess[] = [];
let url: string;
let db: string;

/** A fresh project as a user makes one: `npm init -y`, ESM. */
async function scratchProject(name: string): Promise<string> {
  const dir = join(work, name.replace('@tessera/', ''));
  mkdirSync(dir);
  await run('npm', ['init', '-y'], { cwd: dir });
  await run('npm', ['pkg', 'set', 'type=module'], { cwd: dir });
  return dir;
}

async function npmInstall(dir: string, specs: string[], extra: string[] = []): Promise<void> {
  try {
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...extra, ...specs], { cwd: dir, timeout: 180_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`npm install ${specs.join(' ')} failed in a fresh project:\n${err.stderr ?? err.message}`);
  }
}

/** The `tessera` command installed in the server's scratch project, on the test database. */
async function tessera(args: string[], input?: string): Promise<string> {
  const bin = join(projects.get('@tessera/server') as string, 'node_modules', '.bin', 'tessera');
  const child = spawn(process.execPath, [bin, ...args, '--db', db], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  child.stdin.end(input ?? '');
  // 'close': the output is complete (at 'exit' the pipes may still hold some).
  const [code] = await once(child, 'close');
  if (code !== 0) throw new Error(`tessera ${args.join(' ')} exited ${code}:\n${err}`);
  return out;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tessera-packaging-'));
  expect(work.startsWith(root)).toBe(false);
  const out = join(work, 'tarballs');
  mkdirSync(out);
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out, ...published.flatMap((p) => ['--workspace', p.dir])], { cwd: root });
  for (const p of JSON.parse(stdout) as { name: string; filename: string }[]) tarballs.set(p.name, join(out, p.filename));

  // One project per published package, holding its tarball and those of the siblings it declares.
  for (const { manifest } of published) {
    const dir = await scratchProject(manifest.name);
    const specs = installSet(manifest.name).map((n) => tarballs.get(n) as string);
    if (manifest.name === '@tessera/server') {
      // The better-sqlite3 this repository compiled, so its binary can be reused (install scripts off).
      await npmInstall(dir, [...specs, `better-sqlite3@${installedVersion('better-sqlite3')}`], ['--ignore-scripts']);
      const release = join('node_modules', 'better-sqlite3', 'build', 'Release');
      cpSync(join(root, release, 'better_sqlite3.node'), join(dir, release, 'better_sqlite3.node'));
    } else if (manifest.name === '@tessera/guard') {
      await npmInstall(dir, [...specs, `express@${installedVersion('express')}`]);
    } else {
      await npmInstall(dir, specs);
    }
    projects.set(manifest.name, dir);
  }

  db = join(work, 'data', 'tessera.db');
  const server = spawn(process.execPath, [join(projects.get('@tessera/server') as string, 'node_modules', '.bin', 'tessera'), 'serve', '--port', '0', '--db', db], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' },
  });
  children.push(server);
  let output = '';
  // The URL it serves, from what it prints on start (any free port).
  url = await new Promise<string>((resolve, reject) => {
    const read = (d: Buffer) => {
      output += d;
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(output);
      if (m) resolve(m[0]);
    };
    server.stdout?.on('data', read);
    server.stderr?.on('data', read);
    server.on('exit', () => reject(new Error(`tessera serve from the installed tarball exited:\n${output}`)));
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    if (server.exitCode !== null || i > 300) throw new Error(`tessera serve from the installed tarball did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 300_000);

afterAll(async () => {
  for (const child of children) await stop(child);
  if (work) rmSync(work, { recursive: true, force: true });
});

it('each published package installs from its own tarball, with only the published siblings it declares, outside the repository', () => {
  for (const { manifest } of published) {
    const dir = projects.get(manifest.name) as string;
    expect(readdirSync(join(dir, 'node_modules', '@tessera')).sort()).toEqual(installSet(manifest.name).map((n) => n.replace('@tessera/', '')).sort());
    for (const file of ['README.md', 'LICENSE']) expect(existsSync(join(dir, 'node_modules', manifest.name, file)), `${manifest.name}/${file}`).toBe(true);
  }
});

it('the installed @tessera/server carries the built web console and serves it at /console on its admin listener', async () => {
  const dir = projects.get('@tessera/server') as string;
  const assets = readdirSync(join(dir, 'node_modules', '@tessera', 'server', 'console', 'assets'));
  expect(assets.some((f) => f.endsWith('.js'))).toBe(true);
  const admin = spawn(process.execPath, [join(dir, 'node_modules', '.bin', 'tessera'), 'serve', '--port', '0', '--admin-port', '0', '--db', join(work, 'console.db')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' },
  });
  children.push(admin);
  let output = '';
  const consoleUrl = await new Promise<string>((resolve, reject) => {
    const read = (d: Buffer) => {
      output += d;
      const m = /console +(http:\/\/127\.0\.0\.1:\d+\/console)/.exec(output);
      if (m) resolve(m[1] as string);
    };
    admin.stdout?.on('data', read);
    admin.stderr?.on('data', read);
    admin.on('exit', () => reject(new Error(`tessera serve --admin-port exited:\n${output}`)));
  });
  const page = await fetch(consoleUrl);
  expect(page.status).toBe(200);
  const html = await page.text();
  const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
  const js = await fetch(new URL(script, consoleUrl));
  expect({ status: js.status, type: js.headers.get('content-type') }).toEqual({ status: 200, type: 'text/javascript; charset=utf-8' });
  await stop(admin);
});

it('`npx tessera --help` works in a project that installed @tessera/server', async () => {
  const { stdout } = await run('npx', ['tessera', '--help'], { cwd: projects.get('@tessera/server') });
  expect(stdout).toContain('Usage: tessera <command>');
});

it("the README's client example runs verbatim with the installed @tessera/client: sign in, introspect, refresh, logout", async () => {
  const dir = projects.get('@tessera/client') as string;
  const c = JSON.parse(
    await tessera(['client', 'create', '--name', 'readme-app', '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--redirect-uri', REDIRECT_URI, '--scope', 'read write', '--json']),
  ) as { client_id: string; client_secret: string };
  const password = `pw-${crypto.randomUUID()}`;
  await tessera(['user', 'create', 'alice', '--password-stdin', '--json'], `${password}\n`);

  writeFileSync(join(dir, 'example.mjs'), clientExample().replaceAll('http://127.0.0.1:9000', url));
  const child = spawn(process.execPath, ['example.mjs'], { cwd: dir, env: { ...process.env, CLIENT_ID: c.client_id, CLIENT_SECRET: c.client_secret }, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = once(child, 'close');
  const signIn = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /Sign in at: (\S+)/.exec(stdout);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', () => reject(new Error(`example exited early:\n${stdout}\n${stderr}`)));
  });

  // The user: signs in, opens the authorization URL, allows; the browser lands on the redirect URI.
  const agent = new Agent(url);
  const login = await agent.get(`/login?return_to=${encodeURIComponent('/authorize?')}`);
  expect((await agent.post('/login', { username: 'alice', password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') })).status).toBe(303);
  const page = await agent.get(signIn);
  expect(page.status, page.body).toBe(200);
  const back = await agent.post('/consent', { csrf: field(page.body, 'csrf'), request: field(page.body, 'request'), decision: 'allow' });
  expect(back.status).toBe(303);
  child.stdin.end(`${back.location}\n`);

  const [code] = await exited;
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toContain('active: true scope: read');
  expect(stdout.match(/token \w+, expires at \S+/g)).toEqual([expect.stringMatching(/^token issued, expires at \d+$/), expect.stringMatching(/^token refreshed, expires at \d+$/), 'token revoked, expires at undefined']);
  expect(JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8'))).toEqual({});
});

it("the README's guard example, in an Express app with the installed @tessera/guard, accepts a token and refuses it once revoked", async () => {
  const dir = projects.get('@tessera/guard') as string;
  const rs = JSON.parse(await tessera(['client', 'create', '--name', 'notes-api', '--grant-type', 'client_credentials', '--scope', 'tessera:revocations tessera:introspect', '--json'])) as {
    client_id: string;
    client_secret: string;
  };
  const app = JSON.parse(await tessera(['client', 'create', '--name', 'notes-reader', '--grant-type', 'client_credentials', '--scope', 'notes:read', '--token-format', 'jwt', '--json'])) as {
    client_id: string;
    client_secret: string;
  };

  // The README's snippet is TypeScript around an `app` it does not create: strip the types, and
  // wrap it in the smallest Express app that listens.
  const snippet = ts.transpileModule(guardExample().replaceAll('https://auth.example', url), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  writeFileSync(
    join(dir, 'api.mjs'),
    `import express from 'express';\nconst app = express();\n${snippet}\nconst listener = app.listen(0, '127.0.0.1', () => console.log('listening on', listener.address().port));\n`,
  );
  const api = spawn(process.execPath, ['api.mjs'], { cwd: dir, env: { ...process.env, RS_ID: rs.client_id, RS_SECRET: rs.client_secret }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(api);
  let output = '';
  api.stderr.on('data', (d) => {
    output += d;
  });
  const port = await new Promise<string>((resolve, reject) => {
    api.stdout.on('data', (d) => {
      output += d;
      const m = /listening on (\d+)/.exec(output);
      if (m) resolve(m[1] as string);
    });
    api.on('exit', () => reject(new Error(`the guard example exited:\n${output}`)));
  });
  const notes = `http://127.0.0.1:${port}/notes`;

  const tokenRes = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${app.client_id}:${app.client_secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=notes%3Aread',
  });
  expect(tokenRes.status).toBe(200);
  const { access_token } = (await tokenRes.json()) as { access_token: string };

  expect((await fetch(notes)).status).toBe(401);
  const ok = await fetch(notes, { headers: { authorization: `Bearer ${access_token}` } });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toEqual({ user: app.client_id });

  // Revoked with the installed CLI: the guard hears it through the revocation feed.
  await tessera(['token', 'revoke', '--client', app.client_id, '--json']);
  const revokedAt = performance.now();
  let status = 200;
  for (let i = 0; i < 100 && status === 200; i++) {
    status = (await fetch(notes, { headers: { authorization: `Bearer ${access_token}` } })).status;
    if (status === 200) await new Promise((r) => setTimeout(r, 100));
  }
  expect(status).toBe(401);
  console.log(`packaging: the installed guard refused the token ${Math.round(performance.now() - revokedAt)} ms after the CLI revoked it`);
  await stop(api);
});

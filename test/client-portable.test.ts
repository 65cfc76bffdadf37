/**
 * The client runs unchanged in browsers, Deno, Bun and edge workers: the built main entry and
 * everything it imports, followed through dependencies, contain no node: import and no import of
 * a Node builtin. (The file store, which needs node:fs, is a separate entry point.) And the public
 * surface is the explicit list of index.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const builtins = new Set(builtinModules);

/** Static imports, re-exports and dynamic imports with a string literal. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|[;\s}])(?:import|export)\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+)["']/g)) found.push(m[1] as string);
  for (const m of source.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1] as string);
  for (const m of source.matchAll(/\brequire\s*\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1] as string);
  return found;
}

/** An `exports` target for a runtime that is not Node: browser/worker/import/default, never node. */
function target(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (entry === null || typeof entry !== 'object') return undefined;
  const conditions = entry as Record<string, unknown>;
  for (const c of ['browser', 'worker', 'import', 'default']) if (c in conditions) return target(conditions[c]);
  return undefined;
}

/** Resolves a bare specifier the way a bundler for the browser would, from node_modules. */
function resolvePackage(spec: string, from: string): string {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
  const subpath = `.${spec.slice(name.length)}`;
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', name);
    if (existsSync(join(pkgDir, 'package.json'))) {
      const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
      const exported = pkg.exports === undefined ? undefined : target(typeof pkg.exports === 'string' || subpath !== '.' || !('.' in pkg.exports) ? (pkg.exports[subpath] ?? pkg.exports) : pkg.exports['.']);
      const file = exported ?? (subpath === '.' ? (pkg.module ?? pkg.main ?? 'index.js') : subpath);
      return resolve(pkgDir, file);
    }
    if (dir === dirname(dir)) throw new Error(`cannot resolve ${spec} from ${from}`);
  }
}

/** Every module file reachable from `entry`, and each one's imports. */
function graph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    const imports = specifiers(readFileSync(file, 'utf8'));
    seen.set(file, imports);
    for (const spec of imports) {
      if (spec.startsWith('node:') || builtins.has(spec.split('/')[0] as string)) continue;
      todo.push(spec.startsWith('.') ? resolve(dirname(file), spec) : resolvePackage(spec, file));
    }
  }
  return seen;
}

it('the built main entry of @tessera/client, and all it imports, imports no node: module and no Node builtin', () => {
  const modules = graph(join(root, 'packages/client/dist/index.js'));
  // The walk really went through the package and its dependencies.
  const files = [...modules.keys()].map((f) => f.slice(root.length + 1));
  expect(files).toEqual(expect.arrayContaining(['packages/client/dist/session/session.js', 'packages/client/dist/rfc7523/private-key-jwt.js', 'packages/client/dist/rfc5849/session.js']));
  expect(files.some((f) => f.startsWith('node_modules/jose/'))).toBe(true);
  const offending = [...modules].flatMap(([file, imports]) =>
    imports.filter((s) => s.startsWith('node:') || builtins.has(s.split('/')[0] as string)).map((s) => `${file.slice(root.length + 1)} imports ${s}`),
  );
  expect(offending).toEqual([]);
});

it('the check can fail: the file-store entry, which needs node:fs, is caught by it', () => {
  const modules = graph(join(root, 'packages/client/dist/store/file-store.js'));
  const imports = [...modules.values()].flat();
  expect(imports).toEqual(expect.arrayContaining(['node:fs/promises']));
});

it('the public surface is exactly the names index.ts lists (nothing internal leaks out)', async () => {
  const surface = Object.keys(await import('@tessera/client')).sort();
  expect(surface).toEqual([
    'AuthorizationResponseError', 'ClientError', 'ConfigurationError', 'DEVICE_CODE_GRANT', 'InvalidResponseError', 'IssuerMismatchError',
    'MemoryTokenStore', 'MissingTokenError', 'NetworkError', 'OAuth2Session', 'OAuthResponseError', 'StateMismatchError',
    'authorizationCodeGrantRequest', 'bearerChallenge', 'buildAuthorizationUrl', 'calculateCodeChallenge', 'clientCredentialsGrantRequest',
    'clientSecretBasic', 'clientSecretPost', 'deviceAuthorizationRequest', 'deviceCodeGrantRequest', 'discover', 'discoveryRequest',
    'discoveryUrl', 'generateCodeVerifier', 'generateState', 'introspectionRequest', 'isOAuthError', 'none', 'passwordGrantRequest',
    'privateKeyJwt', 'processDeviceAuthorizationResponse', 'processDeviceCodeResponse', 'processDiscoveryResponse',
    'processIntrospectionResponse', 'processRevocationResponse', 'processTokenResponse', 'refreshTokenGrantRequest', 'revocationRequest',
    'tokenRequest', 'validateAuthorizationResponse',
    // OpenID Connect relying party (issue 11).
    'IdTokenError', 'buildEndSessionUrl', 'fetchJwks', 'processUserInfoResponse', 'userinfoRequest', 'validateIdToken',
    // DPoP (RFC 9449, issue 12).
    'DPoPKey',
    // OAuth 1.0a (issue 12).
    'OAuth1Session', 'signRequest', 'signatureBaseString',
    // One refresh at a time across processes and tabs, and what a failed refresh means (issue 12).
    'IndexedDbTokenStore', 'LocalLock', 'ReauthenticationRequiredError', 'RefreshOutcomeUnknownError', 'ServerClock', 'TokenLockError', 'TokenStoreError', 'WebLocksTokenLock',
  ].sort());
  expect(Object.keys(await import('@tessera/client/file-store')).sort()).toEqual(['FileLock', 'FileTokenStore']);
});

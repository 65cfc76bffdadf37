/**
 * What `npm pack` puts in each published package's tarball, checked without installing anything
 * (`npm pack --dry-run`): a README and the MIT LICENSE, every entry point, source maps that carry
 * their sources, and imports and dependencies that a project outside this repository can
 * satisfy. Installing the tarballs and running the README's examples from them is
 * test/packaging.e2e.ts (`npm run test:packaging`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const workspaces = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
const manifests = new Map(
  workspaces.map((dir) => {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest;
    return [manifest.name, { dir, manifest }];
  }),
);
const published = [...manifests.values()].filter((p) => !p.manifest.private);

/** The files each published package's tarball would hold, as `npm pack --dry-run` lists them. */
const packed = new Map(
  (
    JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', ...published.flatMap((p) => ['--workspace', p.dir])], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ) as { name: string; files: { path: string }[] }[]
  ).map((p) => [p.name, new Set(p.files.map((f) => f.path))]),
);

function filesOf(name: string): Set<string> {
  const files = packed.get(name);
  if (!files) throw new Error(`npm pack did not pack ${name}`);
  return files;
}

/** Every file an `exports` entry (with its conditions) or a `bin` entry names. */
function entryPoints(manifest: Manifest): string[] {
  const targets = Object.values(manifest.exports ?? {}).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)));
  return [...targets, ...Object.values(manifest.bin ?? {})].map((t) => posix.normalize(t));
}

/** The package a bare import specifier names (`@scope/name/sub` → `@scope/name`), or undefined for a relative one. */
function packageOf(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('/')) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Module specifiers of static imports and re-exports, bare side-effect imports, and `import('…')` (also in .d.ts types). */
function imports(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((m) => m[1] as string);
}

const builtins = new Set(builtinModules);

describe.each(published.map((p) => [p.manifest.name, p] as const))('the %s tarball', (name, { dir, manifest }) => {
  it('ships package.json, a README and the MIT LICENSE', () => {
    const files = filesOf(name);
    expect([...files].filter((f) => /^(package\.json|README\.md|LICENSE)$/.test(f)).sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(manifest.license).toBe('MIT');
    expect(readFileSync(join(root, dir, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });

  it('ships every file its exports and bin name', () => {
    const files = filesOf(name);
    const entries = entryPoints(manifest);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(files, `${entry} is not packed`).toContain(entry);
  });

  it('ships source maps that carry their sources: none points at a file left out', () => {
    const files = filesOf(name);
    const maps = [...files].filter((f) => f.endsWith('.map'));
    for (const path of maps) {
      const map = JSON.parse(readFileSync(join(root, dir, path), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      map.sources.forEach((source, i) => {
        const shipped = files.has(posix.join(posix.dirname(path), source));
        expect(shipped || typeof map.sourcesContent?.[i] === 'string', `${path} points at ${source}, which is not packed`).toBe(true);
      });
    }
  });

  it('imports (in .js and .d.ts) only Node builtins and the packages it declares', () => {
    const declared = new Set([name, ...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const undeclared: string[] = [];
    for (const path of filesOf(name)) {
      if (!/\.(js|d\.ts)$/.test(path)) continue;
      for (const spec of imports(readFileSync(join(root, dir, path), 'utf8'))) {
        const pkg = packageOf(spec);
        if (pkg === undefined || spec.startsWith('node:') || builtins.has(pkg) || declared.has(pkg)) continue;
        undeclared.push(`${path}: ${spec}`);
      }
    }
    expect(undeclared).toEqual([]);
  });

  it('depends on siblings only when they are published, at their exact version (never on a private one like test-utils)', () => {
    for (const [dep, range] of Object.entries({ ...manifest.dependencies, ...manifest.peerDependencies })) {
      const sibling = manifests.get(dep)?.manifest;
      if (!sibling) continue;
      expect({ dep, private: sibling.private ?? false, range }).toEqual({ dep, private: false, range: sibling.version });
    }
  });
});

it('the client depends on nothing of the server side: jose is its only dependency', () => {
  expect(Object.keys(manifests.get('@tessera/client')?.manifest.dependencies ?? {})).toEqual(['jose']);
});

/** `tessera keys rotate|list`: the ES256 keys that sign JWT access tokens (RFC 9068). */
import type { KeyRecord } from '../../store/types.js';
import { EXIT, parse, type Command } from '../args.js';
import { iso, print, printJson, shortIso, table, withTessera } from '../io.js';

/**
 * Added to the old key's publication: a running server re-reads keys every 2 s (keys.ts), so it
 * may sign with the old key just after the rotation; the rest covers clock skew at verifiers.
 */
const RETIRE_MARGIN_MS = 60_000;

const rotate: Command = {
  name: 'keys rotate',
  synopsis: '[--json]',
  summary: 'add a new signing key; the old public key stays in the JWKS until the last token it signed has expired',
  async run(argv) {
    const { values, db } = parse(argv, {});
    return withTessera(db, 'create', async ({ keys, store, config }) => {
      // The longest access-token lifetime in use bounds the life of a token the old key signed.
      const clients = await store.listClients();
      const longest = Math.max(config.accessTokenTtl, ...clients.map((c) => c.accessTtl ?? 0));
      const retireAt = Date.now() + longest * 1000 + RETIRE_MARGIN_MS;
      const key = await keys.rotate(retireAt, { event: 'key.rotated', actor: 'cli' });
      if (values.json) {
        printJson({ kid: key.kid, alg: key.alg, created_at: iso(key.createdAt), previous_keys_retire_at: iso(retireAt) });
      } else {
        print(`New signing key ${key.kid} (${key.alg}).`);
        print(`Previous keys stay published in the JWKS until ${iso(retireAt)}; running servers switch within seconds.`);
      }
      return EXIT.ok;
    });
  },
};

const listCommand: Command = {
  name: 'keys list',
  synopsis: '[--json]',
  summary: 'list signing keys: the current one, and older ones still published (never private keys)',
  async run(argv) {
    const { values, db } = parse(argv, {});
    return withTessera(db, 'existing', async ({ store }) => {
      const now = Date.now();
      const keys = await store.listKeys();
      const current = keys.findLast((k) => k.retireAt === null);
      const shown = keys.map((k) => ({
        kid: k.kid,
        alg: k.alg,
        created_at: iso(k.createdAt),
        retire_at: k.retireAt === null ? null : iso(k.retireAt),
        status: keyStatus(k, current, now),
      }));
      if (values.json) printJson(shown);
      else print(table(['kid', 'alg', 'created_at', 'retire_at', 'status'], keys.map((k, i) => [
        k.kid, k.alg, shortIso(k.createdAt), k.retireAt === null ? '-' : shortIso(k.retireAt), shown[i]?.status ?? '',
      ]), 'No keys yet.'));
      return EXIT.ok;
    });
  },
};

export const keysCommands: readonly Command[] = [rotate, listCommand];

/** As KeyRing sees them: the newest unretired key signs; others stay in the JWKS until retireAt. */
function keyStatus(k: KeyRecord, current: KeyRecord | undefined, now: number): 'current' | 'published' | 'retired' {
  if (k === current) return 'current';
  return k.retireAt === null || k.retireAt > now ? 'published' : 'retired';
}

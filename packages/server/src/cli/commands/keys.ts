/** `tessera keys rotate|list`: the signing keys, one current key per algorithm (RS256 and ES256). */
import { currentKey, SIGNING_ALGS } from '../../lifecycle/keys.js';
import type { KeyRecord } from '../../store/types.js';
import { EXIT, oneOf, parse, type Command } from '../args.js';
import { iso, print, printJson, shortIso, table, withTessera } from '../io.js';

/**
 * Added to the old key's publication: a running server re-reads keys every 2 s (keys.ts), so it
 * may sign with the old key just after the rotation; the rest covers clock skew at verifiers.
 */
const RETIRE_MARGIN_MS = 60_000;

const rotate: Command = {
  name: 'keys rotate',
  synopsis: '[--alg RS256|ES256] [--json]',
  summary: "add a new signing key for each algorithm (or --alg's); old public keys stay in the JWKS until the last token they signed has expired",
  help: `  --alg A             rotate only this algorithm's key: RS256 (ID Tokens by default) or ES256
                      (JWT access tokens, and ID Tokens of clients registered for it); default both`,
  async run(argv) {
    const { values, db } = parse(argv, { alg: { type: 'string' } });
    const algs = values.alg === undefined ? SIGNING_ALGS : [oneOf('--alg', values.alg, SIGNING_ALGS)];
    return withTessera(db, 'create', async ({ keys, store, config }) => {
      // The longest access-token lifetime in use bounds the life of a token the old key signed
      // (an ID Token expires with its access token).
      const clients = await store.listClients();
      const longest = Math.max(config.accessTokenTtl, ...clients.map((c) => c.accessTtl ?? 0));
      const retireAt = Date.now() + longest * 1000 + RETIRE_MARGIN_MS;
      const made: KeyRecord[] = [];
      for (const alg of algs) made.push(await keys.rotate(alg, retireAt, { event: 'key.rotated', actor: 'cli' }));
      if (values.json) {
        printJson({ keys: made.map((k) => ({ kid: k.kid, alg: k.alg, created_at: iso(k.createdAt) })), previous_keys_retire_at: iso(retireAt) });
      } else {
        for (const k of made) print(`New signing key ${k.kid} (${k.alg}).`);
        print(`Previous ${algs.join(' and ')} keys stay published in the JWKS until ${iso(retireAt)}; running servers switch within seconds.`);
      }
      return EXIT.ok;
    });
  },
};

const listCommand: Command = {
  name: 'keys list',
  synopsis: '[--json]',
  summary: 'list signing keys: the current one of each algorithm, and older ones still published (never private keys)',
  async run(argv) {
    const { values, db } = parse(argv, {});
    return withTessera(db, 'existing', async ({ store }) => {
      const now = Date.now();
      const keys = await store.listKeys();
      const current = new Set(SIGNING_ALGS.map((alg) => currentKey(keys, alg)));
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

/** As KeyRing sees them: each algorithm's newest unretired key signs; others stay in the JWKS until retireAt. */
function keyStatus(k: KeyRecord, current: ReadonlySet<KeyRecord | undefined>, now: number): 'current' | 'published' | 'retired' {
  if (current.has(k)) return 'current';
  return k.retireAt === null || k.retireAt > now ? 'published' : 'retired';
}

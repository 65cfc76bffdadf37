/** `tessera admin token create|list|revoke`: the credentials of the admin API (README "Admin API"). */
import type { AdminTokenRecord } from '../../store/types.js';
import { CommandError, EXIT, isoTime, need, parse, UsageError, type Command } from '../args.js';
import { iso, print, printJson, shortIso, table, withTessera } from '../io.js';

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** Ten years: a longer "duration" is a typo. */
const MAX_MS = 3650 * UNIT_MS.d!;

/**
 * `--expires`: a duration from now (`30d`, `12h`, `90m`, `3600s`, `2w`) or an ISO 8601 date or
 * time in the future; the instant it names, in ms.
 */
export function expiresAt(value: string, now: number): number {
  const duration = /^(\d{1,10})([smhdw])$/.exec(value);
  if (duration) {
    const ms = Number(duration[1]) * (UNIT_MS[duration[2] as string] as number);
    if (ms < 1000 || ms > MAX_MS) throw new UsageError(`--expires must be from 1s to 3650d; got '${value}'`);
    return now + ms;
  }
  if (!/^\d{4}-/.test(value)) throw new UsageError(`--expires takes a duration such as 30d, 12h or 90m, or an ISO 8601 time such as 2027-01-31T12:00:00Z; got '${value}'`);
  const at = isoTime('--expires', value);
  if (at <= now) throw new UsageError(`--expires ${value} is in the past`);
  return at;
}

/** Names appear in the audit log as `admin:NAME`: short, printable, no spaces. */
function tokenName(value: string): string {
  if (!/^[A-Za-z0-9][\w.@-]{0,63}$/.test(value)) {
    throw new UsageError(`--name must be 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit; got '${value.replace(/\p{Cc}/gu, '?')}'`);
  }
  return value;
}

function tokenJson(t: AdminTokenRecord, now: number) {
  return {
    id: t.id,
    name: t.name,
    read_only: t.readOnly,
    created_at: iso(t.createdAt),
    expires_at: t.expiresAt === null ? null : iso(t.expiresAt),
    revoked_at: t.revokedAt === null ? null : iso(t.revokedAt),
    status: t.revokedAt !== null ? 'revoked' : t.expiresAt !== null && t.expiresAt <= now ? 'expired' : 'active',
  };
}

const create: Command = {
  name: 'admin token create',
  synopsis: '--name N [--expires 30d|ISO] [--read-only] [--json]',
  summary: 'make an admin API token; prints it once (Tessera keeps only its hash)',
  help: `  --name N            a unique name (1 to 64 of A-Z a-z 0-9 . _ - @): the audit log records
                      what the token does as admin:N; a name is never reused, even after revocation
  --expires E         a duration from now (30d, 12h, 90m, 3600s, 2w) or an ISO 8601 time in the
                      future (default: never)
  --read-only         the token may read (GET) only; writes get 403`,
  async run(argv) {
    const { values, db } = parse(argv, { name: { type: 'string' }, expires: { type: 'string' }, 'read-only': { type: 'boolean' } });
    const name = tokenName(need(values.name, '--name'));
    const expires = values.expires === undefined ? null : expiresAt(values.expires, Date.now());
    return withTessera(db, 'create', async ({ engine }) => {
      const made = await engine.createAdminToken({ name, readOnly: values['read-only'] === true, expiresAt: expires }, { actor: 'cli' });
      if (!made) throw new CommandError(`an admin token named '${name}' exists already (names are never reused: pick another)`);
      if (values.json) {
        printJson({ token: made.value, ...tokenJson(made.token, Date.now()) });
      } else {
        print(made.value);
        process.stderr.write(`tessera: admin token '${name}'${made.token.readOnly ? ' (read-only)' : ''} created; it is shown only this once: store it now.\n`);
      }
      return EXIT.ok;
    });
  },
};

const listCommand: Command = {
  name: 'admin token list',
  synopsis: '[--json]',
  summary: 'list admin tokens (never their values)',
  async run(argv) {
    const { values, db } = parse(argv, {});
    return withTessera(db, 'existing', async ({ store }) => {
      const now = Date.now();
      const tokens = (await store.listAdminTokens()).map((t) => tokenJson(t, now));
      if (values.json) {
        printJson(tokens);
      } else {
        const rows = tokens.map((t) => [t.name, t.id, t.read_only ? 'read-only' : 'read-write', t.status, shortIso(Date.parse(t.created_at)), t.expires_at === null ? 'never' : shortIso(Date.parse(t.expires_at))]);
        print(table(['name', 'id', 'access', 'status', 'created', 'expires'], rows, 'No admin tokens.'));
      }
      return EXIT.ok;
    });
  },
};

const revoke: Command = {
  name: 'admin token revoke',
  synopsis: 'NAME_OR_ID [--json]',
  summary: 'revoke an admin token, by its name or id; it stops working at once',
  async run(argv) {
    const { values, args, db } = parse(argv, {}, ['NAME_OR_ID']);
    return withTessera(db, 'existing', async ({ engine }) => {
      const token = await engine.revokeAdminToken(args.NAME_OR_ID, { actor: 'cli' });
      if (!token) throw new CommandError(`no live admin token named '${args.NAME_OR_ID}' (or with that id)`);
      if (values.json) printJson({ id: token.id, name: token.name, revoked: true });
      else print(`Revoked admin token '${token.name}' (id ${token.id}).`);
      return EXIT.ok;
    });
  },
};

export const adminCommands: readonly Command[] = [create, listCommand, revoke];

/** `tessera token list|revoke`: issued tokens, by their records (never their values or hashes). */
import { describe, revocationTarget } from '../../lifecycle/engine.js';
import { UNPRINTABLE } from '../../lifecycle/user-rules.js';
import type { RevocationTarget, TokenRecord } from '../../store/types.js';
import { CommandError, count, EXIT, isoTime, parse, UsageError, type Command } from '../args.js';
import { iso, note, plural, print, printJson, readStdin, shortIso, table, withTessera } from '../io.js';
import { userNamed } from './user.js';

/** Tokens per page unless --limit says otherwise, and the most --limit may ask for. */
const PAGE = 100;
const MAX_PAGE = 10_000;

/** A position in the listing's order (issued_at, id), printed for the next page's --after. */
const cursorOf = (t: TokenRecord): string => `${t.issuedAt}.${t.id}`;

function parseCursor(value: string): { issuedAt: number; id: string } {
  const match = /^(\d{1,16})\.([\w-]{1,128})$/.exec(value);
  if (!match) throw new UsageError(`--after takes a cursor printed by an earlier 'tessera token list'; got '${value}'`);
  return { issuedAt: Number(match[1]), id: match[2] as string };
}

type Status = 'active' | 'expired' | 'revoked' | 'rotated';

function status(t: TokenRecord, now: number): Status {
  if (t.revokedAt !== null) return 'revoked';
  if (t.consumedAt !== null) return 'rotated';
  return t.expiresAt <= now ? 'expired' : 'active';
}

const listCommand: Command = {
  name: 'token list',
  synopsis: '[--user USERNAME] [--client ID] [--active] [--limit N] [--after CURSOR] [--json]',
  summary: 'list tokens, oldest first, with their status (never their values), a page at a time',
  help: `  --user USERNAME     only this user's tokens
  --client ID         only tokens issued to this client
  --active            only tokens neither expired, revoked nor rotated
  --limit N           at most N tokens (default ${PAGE}, at most ${MAX_PAGE})
  --after CURSOR      the page after this cursor: when there are more tokens, the command says so
                      on stderr with the cursor to pass; with --json each token has its cursor`,
  async run(argv) {
    const { values, db } = parse(argv, {
      user: { type: 'string' }, client: { type: 'string' }, active: { type: 'boolean' }, limit: { type: 'string' }, after: { type: 'string' },
    });
    const limit = values.limit === undefined ? PAGE : count('--limit', values.limit, MAX_PAGE);
    const after = values.after === undefined ? undefined : parseCursor(values.after);
    return withTessera(db, 'existing', async ({ store }) => {
      const now = Date.now();
      const user = values.user === undefined ? undefined : await userNamed(store, values.user);
      // One more than asked for tells whether there is a next page.
      const page = await store.listTokens({
        ...(user ? { userId: user.id } : {}),
        ...(values.client === undefined ? {} : { clientId: values.client }),
        ...(values.active ? { activeAt: now } : {}),
        ...(after ? { after } : {}),
        limit: limit + 1,
      });
      const tokens = page.slice(0, limit);
      const last = tokens.at(-1);
      if (page.length > limit && last) note(`showing ${plural(limit, 'token')}; there are more: add --after ${cursorOf(last)}`);
      const usernames = new Map((await store.listUsers()).map((u) => [u.id, u.username]));
      const shown = tokens.map((t) => ({
        id: t.id,
        kind: t.kind,
        format: t.format,
        client_id: t.clientId,
        user_id: t.userId,
        username: t.userId === null ? null : (usernames.get(t.userId) ?? null),
        grant_id: t.grantId,
        scope: t.scope,
        issued_at: iso(t.issuedAt),
        expires_at: iso(t.expiresAt),
        status: status(t, now),
        cursor: cursorOf(t),
      }));
      if (values.json) {
        printJson(shown);
      } else {
        const rows = tokens.map((t, i) => [
          t.id, t.kind, t.format, t.clientId, shown[i]?.username ?? t.userId ?? '-', t.grantId, t.scope,
          shortIso(t.issuedAt), shortIso(t.expiresAt), status(t, now),
        ]);
        print(table(['id', 'kind', 'format', 'client', 'user', 'grant', 'scope', 'issued', 'expires', 'status'], rows, 'No tokens.'));
      }
      return EXIT.ok;
    });
  },
};

const revoke: Command = {
  name: 'token revoke',
  synopsis: '(--token-stdin | --grant G | --user USERNAME | --client ID | --issued-before ISO) [--reason TEXT] [--json]',
  summary: 'revoke tokens, atomically, with an audit record',
  help: `  exactly one of:
  --token-stdin       read the token string itself from stdin (never from argv, where ps shows
                      it): a refresh token revokes its grant (with every access token of the
                      grant), an access token just itself (as RFC 7009 §2.1)
  --grant G           a grant id (see 'tessera token list'): the grant and all its tokens
  --user USERNAME     every grant and token of the user
  --client ID         every grant and token issued to the client (which stays registered)
  --issued-before T   every token issued before this ISO 8601 time, e.g. 2026-01-31T12:00:00Z;
                      not in the future
and:
  --reason TEXT       recorded in the audit log`,
  async run(argv) {
    const { values, db } = parse(argv, {
      token: { type: 'string' },
      'token-stdin': { type: 'boolean' },
      grant: { type: 'string' },
      user: { type: 'string' },
      client: { type: 'string' },
      'issued-before': { type: 'string' },
      reason: { type: 'string' },
    });
    const given = (['token', 'token-stdin', 'grant', 'user', 'client', 'issued-before'] as const).filter((k) => values[k] !== undefined);
    if (given.length !== 1) {
      throw new UsageError(
        given.length === 0
          ? 'name what to revoke: one of --token-stdin, --grant, --user, --client, --issued-before'
          : `give exactly one of --token-stdin, --grant, --user, --client, --issued-before; got ${given.map((k) => `--${k}`).join(' and ')}`,
      );
    }
    if (values.token !== undefined) {
      note('warning: --token puts the token on the command line, where ps and shell history show it; pipe it to --token-stdin instead');
    }
    const value = values['token-stdin'] ? await readStdin('--token-stdin', 'token') : values.token;
    const issuedBefore = values['issued-before'] === undefined ? undefined : pastTime('--issued-before', values['issued-before']);
    const reason = values.reason ?? 'revoked by an administrator';
    // The audit log is read by people: as the admin API's reason (admin/schemas.ts printable).
    if (reason === '' || UNPRINTABLE.test(reason)) throw new UsageError('--reason must be printable text: not empty, no control characters or bidirectional overrides');

    return withTessera(db, 'existing', async ({ engine, store }) => {
      let target: RevocationTarget;
      if (value !== undefined) {
        const token = await engine.findToken(value);
        if (!token) throw new CommandError('no such token (unknown, or expired and swept)');
        if (token.revokedAt !== null) {
          report(values.json === true, describe({ token: token.id }), { tokens: 0, grants: 0 }, 'the token was already revoked');
          return EXIT.ok;
        }
        // The RFC 7009 §2.1 rule the /revoke endpoint applies, without its client ownership check.
        target = revocationTarget(token);
      } else if (values.grant !== undefined) {
        if (!(await store.getGrant(values.grant))) throw new CommandError(`no grant with id '${values.grant}'`);
        target = { grant: values.grant };
      } else if (values.user !== undefined) {
        target = { user: (await userNamed(store, values.user)).id };
      } else if (values.client !== undefined) {
        if (!(await store.getClient(values.client))) throw new CommandError(`no client with id '${values.client}'`);
        target = { client: values.client };
      } else {
        target = { issuedBefore: issuedBefore as number };
      }
      const result = await engine.revoke(target, { actor: 'cli', reason });
      report(values.json === true, describe(target), result);
      return EXIT.ok;
    });
  },
};

/**
 * A cutoff in the future is refused: the server could only revoke the tokens issued so far, yet
 * guards would refuse every token issued before the cutoff, so the two would disagree until then.
 */
function pastTime(label: string, value: string): number {
  const ms = isoTime(label, value);
  if (ms > Date.now()) {
    throw new UsageError(`${label} ${value} is in the future: the server could revoke only the tokens issued so far, while guards would refuse later ones too; give a time up to now`);
  }
  return ms;
}

function report(json: boolean, target: string, result: { tokens: number; grants: number }, comment?: string) {
  if (json) {
    printJson({ target, revoked_tokens: result.tokens, revoked_grants: result.grants });
  } else {
    print(`Revoked ${plural(result.tokens, 'token')} and ${plural(result.grants, 'grant')} (${target})${comment ? `: ${comment}` : ''}.`);
  }
}

export const tokenCommands: readonly Command[] = [listCommand, revoke];

/** `tessera token list|revoke`: issued tokens, by their records (never their values or hashes). */
import { describe } from '../../lifecycle/engine.js';
import type { RevocationTarget, TokenRecord } from '../../store/types.js';
import { CommandError, EXIT, isoTime, parse, UsageError, type Command } from '../args.js';
import { iso, note, plural, print, printJson, shortIso, table, withTessera } from '../io.js';
import { userNamed } from './user.js';

/** Rows per listing; the store's own cap. */
const LIMIT = 1000;

type Status = 'active' | 'expired' | 'revoked' | 'rotated';

function status(t: TokenRecord, now: number): Status {
  if (t.revokedAt !== null) return 'revoked';
  if (t.consumedAt !== null) return 'rotated';
  return t.expiresAt <= now ? 'expired' : 'active';
}

const listCommand: Command = {
  name: 'token list',
  synopsis: '[--user USERNAME] [--client ID] [--active] [--json]',
  summary: 'list tokens, oldest first, with their status (never their values)',
  help: `  --user USERNAME     only this user's tokens
  --client ID         only tokens issued to this client
  --active            only tokens neither expired, revoked nor rotated`,
  async run(argv) {
    const { values, db } = parse(argv, { user: { type: 'string' }, client: { type: 'string' }, active: { type: 'boolean' } });
    return withTessera(db, 'existing', async ({ store }) => {
      const now = Date.now();
      const user = values.user === undefined ? undefined : await userNamed(store, values.user);
      const tokens = await store.listTokens({
        ...(user ? { userId: user.id } : {}),
        ...(values.client === undefined ? {} : { clientId: values.client }),
        ...(values.active ? { activeAt: now } : {}),
        limit: LIMIT,
      });
      if (tokens.length === LIMIT) note(`showing the first ${LIMIT} tokens; narrow the list with --user, --client or --active`);
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
  synopsis: '(--token T | --grant G | --user USERNAME | --client C | --issued-before ISO) [--reason TEXT] [--json]',
  summary: 'revoke tokens, atomically, with an audit record',
  help: `  exactly one of:
  --token T           the token string itself: a refresh token revokes its grant (with every access
                      token of the grant), an access token just itself (as RFC 7009 §2.1)
  --grant G           a grant id (see 'tessera token list'): the grant and all its tokens
  --user USERNAME     every grant and token of the user
  --client C          every grant and token issued to the client (which stays registered)
  --issued-before T   every token issued before this ISO 8601 time, e.g. 2026-01-31T12:00:00Z
and:
  --reason TEXT       recorded in the audit log`,
  async run(argv) {
    const { values, db } = parse(argv, {
      token: { type: 'string' },
      grant: { type: 'string' },
      user: { type: 'string' },
      client: { type: 'string' },
      'issued-before': { type: 'string' },
      reason: { type: 'string' },
    });
    const given = (['token', 'grant', 'user', 'client', 'issued-before'] as const).filter((k) => values[k] !== undefined);
    if (given.length !== 1) {
      throw new UsageError(
        given.length === 0
          ? 'name what to revoke: one of --token, --grant, --user, --client, --issued-before'
          : `give exactly one of --token, --grant, --user, --client, --issued-before; got ${given.map((k) => `--${k}`).join(' and ')}`,
      );
    }
    const issuedBefore = values['issued-before'] === undefined ? undefined : isoTime('--issued-before', values['issued-before']);
    const reason = values.reason ?? 'revoked by an administrator';

    return withTessera(db, 'existing', async ({ engine, store }) => {
      let target: RevocationTarget;
      if (values.token !== undefined) {
        const token = await engine.findToken(values.token);
        if (!token) throw new CommandError('no such token (unknown, or expired and swept)');
        if (token.revokedAt !== null) {
          report(values.json === true, describe({ token: token.id }), { tokens: 0, grants: 0 }, 'the token was already revoked');
          return EXIT.ok;
        }
        // Same rule as RFC 7009 revocation, without the client ownership check.
        target = token.kind === 'refresh' ? { grant: token.grantId } : { token: token.id };
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

function report(json: boolean, target: string, result: { tokens: number; grants: number }, comment?: string) {
  if (json) {
    printJson({ target, revoked_tokens: result.tokens, revoked_grants: result.grants });
  } else {
    print(`Revoked ${plural(result.tokens, 'token')} and ${plural(result.grants, 'grant')} (${target})${comment ? `: ${comment}` : ''}.`);
  }
}

export const tokenCommands: readonly Command[] = [listCommand, revoke];

/** `tessera user create|list|delete|set-password`: resource owners who log in at /authorize. */
import type { ServerConfig } from '../../config.js';
import { passwordProblem } from '../../lifecycle/password-policy.js';
import type { Store, UserRecord } from '../../store/types.js';
import { CommandError, EXIT, parse, UsageError, type Command } from '../args.js';
import { iso, note, plural, print, printJson, readStdin, shortIso, table, withTessera } from '../io.js';

const PASSWORD_HELP = '  --password-stdin    read the password from stdin (one trailing newline is dropped); never from argv';

const create: Command = {
  name: 'user create',
  synopsis: 'USERNAME --password-stdin [--json]',
  summary: 'create a user; the password is read from stdin',
  help: `  USERNAME            the login name
${PASSWORD_HELP}`,
  async run(argv) {
    // --username is the older spelling; every command names its object as an argument.
    const { values, args, db } = parse(argv, { username: { type: 'string' }, 'password-stdin': { type: 'boolean' } }, [], ['USERNAME']);
    if (args.USERNAME !== undefined && values.username !== undefined) throw new UsageError('give the username once: tessera user create USERNAME');
    if (values.username !== undefined) note(`--username is deprecated: write 'tessera user create ${values.username} …'`);
    const username = args.USERNAME ?? values.username;
    if (username === undefined) throw new UsageError('missing argument USERNAME');
    // Control characters and surrounding spaces only make logins fail in confusing ways.
    if (username === '' || username !== username.trim() || /\p{Cc}/u.test(username)) {
      throw new UsageError(`USERNAME must be non-empty, without surrounding spaces or control characters; got '${username}'`);
    }
    const password = await passwordFromStdin(values['password-stdin']);
    return withTessera(db, 'create', async ({ engine, store, config }) => {
      if (await store.getUserByName(username)) throw new CommandError(`a user named '${username}' already exists`);
      await checkPolicy(password, config);
      const user = await engine.createUser(username, password, { actor: 'cli' });
      if (values.json) printJson(userJson(user));
      else print(`Created user '${user.username}' (id ${user.id}).`);
      return EXIT.ok;
    });
  },
};

const listCommand: Command = {
  name: 'user list',
  synopsis: '[--json]',
  summary: 'list users (never their password hashes)',
  async run(argv) {
    const { values, db } = parse(argv, {});
    return withTessera(db, 'existing', async ({ store }) => {
      const users = await store.listUsers();
      if (values.json) printJson(users.map(userJson));
      else print(table(['username', 'id', 'created_at'], users.map((u) => [u.username, u.id, shortIso(u.createdAt)]), 'No users yet.'));
      return EXIT.ok;
    });
  },
};

const remove: Command = {
  name: 'user delete',
  synopsis: 'USERNAME [--json]',
  summary: "delete a user and revoke the user's grants and tokens",
  async run(argv) {
    const { values, args, db } = parse(argv, {}, ['USERNAME']);
    return withTessera(db, 'existing', async ({ engine, store }) => {
      const user = await userNamed(store, args.USERNAME);
      const result = await engine.deleteUser(user.id, { actor: 'cli' });
      if (!result) throw new CommandError(`no user named '${args.USERNAME}'`);
      if (values.json) printJson({ username: user.username, id: user.id, deleted: true, revoked_tokens: result.tokens, revoked_grants: result.grants });
      else print(`Deleted user '${user.username}'; revoked ${plural(result.tokens, 'token')} and ${plural(result.grants, 'grant')}.`);
      return EXIT.ok;
    });
  },
};

const setPassword: Command = {
  name: 'user set-password',
  synopsis: 'USERNAME --password-stdin [--json]',
  summary: "change a user's password; revokes the user's grants, so other sessions must log in again",
  help: PASSWORD_HELP,
  async run(argv) {
    const { values, args, db } = parse(argv, { 'password-stdin': { type: 'boolean' } }, ['USERNAME']);
    const password = await passwordFromStdin(values['password-stdin']);
    return withTessera(db, 'existing', async ({ engine, store, config }) => {
      const user = await userNamed(store, args.USERNAME);
      await checkPolicy(password, config);
      const result = await engine.setPassword(user.id, password, { actor: 'cli' });
      if (!result) throw new CommandError(`no user named '${args.USERNAME}'`);
      if (values.json) printJson({ username: user.username, id: user.id, password_changed: true, revoked_tokens: result.tokens, revoked_grants: result.grants });
      else print(`Changed the password of '${user.username}'; revoked ${plural(result.tokens, 'token')} and ${plural(result.grants, 'grant')}.`);
      return EXIT.ok;
    });
  },
};

export const userCommands: readonly Command[] = [create, listCommand, remove, setPassword];

function userJson(u: UserRecord) {
  return { id: u.id, username: u.username, created_at: iso(u.createdAt) };
}

export async function userNamed(store: Store, username: string): Promise<UserRecord> {
  const user = await store.getUserByName(username);
  if (!user) throw new CommandError(`no user named '${username}'`);
  return user;
}

/** NIST SP 800-63B-style policy (lifecycle/password-policy.ts): a refused password is a usage error (exit 2). */
async function checkPolicy(password: string, config: ServerConfig): Promise<void> {
  const problem = await passwordProblem(password, { minLength: config.passwordMinLength, maxLength: config.passwordMaxLength });
  if (problem) throw new UsageError(problem);
}

/** Passwords never come from argv, where `ps` and shell history would show them. */
function passwordFromStdin(flag: boolean | undefined): Promise<string> {
  if (!flag) throw new UsageError('--password-stdin is required: pipe the password in, e.g. printf %s "$PW" | tessera …');
  return readStdin('--password-stdin', 'password');
}

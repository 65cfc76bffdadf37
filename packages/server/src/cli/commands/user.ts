/** `tessera user create|list|update|delete|set-password`: resource owners who log in at /authorize. */
import type { ServerConfig } from '../../config.js';
import { passwordProblem } from '../../lifecycle/password-policy.js';
import { NO_PROFILE } from '../../lifecycle/principals.js';
import { emailProblem, nameProblem, profileAfter, usernameProblem } from '../../lifecycle/user-rules.js';
import type { Store, UserProfile, UserRecord } from '../../store/types.js';
import { CommandError, EXIT, parse, UsageError, type Command } from '../args.js';
import { iso, plural, print, printJson, readStdin, shortIso, table, withTessera } from '../io.js';

const PASSWORD_HELP = '  --password-stdin    read the password from stdin (one trailing newline is dropped); never from argv';
const PROFILE_HELP = `  --name NAME         the user's full name: the OpenID Connect 'name' claim (scope profile)
  --email EMAIL       the 'email' claim (scope email)
  --email-verified    vouch that the email address belongs to the user ('email_verified': true)`;

const PROFILE_OPTIONS = { name: { type: 'string' }, email: { type: 'string' }, 'email-verified': { type: 'boolean' } } as const;

const create: Command = {
  name: 'user create',
  synopsis: 'USERNAME|--username USERNAME --password-stdin [--name NAME] [--email EMAIL [--email-verified]] [--json]',
  summary: 'create a user; the password is read from stdin',
  help: `  USERNAME            the login name (or --username USERNAME)
${PASSWORD_HELP}
${PROFILE_HELP}`,
  async run(argv) {
    const { values, args, db } = parse(argv, { username: { type: 'string' }, 'password-stdin': { type: 'boolean' }, ...PROFILE_OPTIONS }, [], ['USERNAME']);
    if (args.USERNAME !== undefined && values.username !== undefined) throw new UsageError('give the username once: tessera user create USERNAME');
    const username = args.USERNAME ?? values.username;
    if (username === undefined) throw new UsageError('missing argument USERNAME');
    const bad = usernameProblem(username, 'USERNAME');
    if (bad !== undefined) throw new UsageError(`${bad}; got '${username.replace(/\p{Cc}/gu, '?')}'`);
    const profile = profileOf(NO_PROFILE, values);
    const password = await passwordFromStdin(values['password-stdin']);
    return withTessera(db, 'create', async ({ engine, store, config }) => {
      if (await store.getUserByName(username)) throw new CommandError(`a user named '${username}' already exists`);
      await checkPolicy(password, config);
      const user = await engine.createUser(username, password, { actor: 'cli' }, profile);
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

const update: Command = {
  name: 'user update',
  synopsis: 'USERNAME [--name NAME] [--email EMAIL] [--email-verified | --email-unverified] [--json]',
  summary: "change a user's name and email (OpenID Connect claims); revokes nothing",
  help: `  USERNAME            the user to change
${PROFILE_HELP}
  --email-unverified  withdraw that ('email_verified': false); a new --email is unverified unless
                      --email-verified is given too
  An empty value (--name '') removes the claim.`,
  async run(argv) {
    const { values, args, db } = parse(argv, { ...PROFILE_OPTIONS, 'email-unverified': { type: 'boolean' } }, ['USERNAME']);
    if (values['email-verified'] && values['email-unverified']) throw new UsageError('give --email-verified or --email-unverified, not both');
    if (values.name === undefined && values.email === undefined && !values['email-verified'] && !values['email-unverified']) {
      throw new UsageError('nothing to change: give --name, --email, --email-verified or --email-unverified');
    }
    return withTessera(db, 'existing', async ({ engine, store }) => {
      const user = await userNamed(store, args.USERNAME);
      const profile = profileOf(user, values);
      if (!(await engine.setUserProfile(user, profile, { actor: 'cli' }))) throw new CommandError(`no user named '${args.USERNAME}'`);
      const updated = { ...user, ...profile };
      if (values.json) printJson(userJson(updated));
      else print(`Updated user '${user.username}': name ${show(updated.name)}, email ${show(updated.email)}${updated.email === null ? '' : updated.emailVerified ? ' (verified)' : ' (unverified)'}.`);
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

export const userCommands: readonly Command[] = [create, listCommand, update, remove, setPassword];

export function userJson(u: UserRecord) {
  return { id: u.id, username: u.username, name: u.name, email: u.email, email_verified: u.emailVerified, created_at: iso(u.createdAt) };
}

const show = (v: string | null) => (v === null ? '(none)' : `'${v}'`);

/** The profile after applying the options to `before` (lifecycle/user-rules.ts profileAfter). */
function profileOf(before: UserProfile, values: { name?: string; email?: string; 'email-verified'?: boolean; 'email-unverified'?: boolean }): UserProfile {
  const name = values.name === undefined ? undefined : checked(values.name, nameProblem(values.name, '--name'));
  if (values.email !== undefined && values.email !== '') {
    const problem = emailProblem(values.email, '--email');
    if (problem) throw new UsageError(`${problem}; got '${values.email.replace(/\p{Cc}/gu, '?')}'`);
  }
  const emailVerified = values['email-verified'] ? true : values['email-unverified'] ? false : undefined;
  const profile = profileAfter(before, { name, email: values.email, emailVerified });
  if (profile.emailVerified && profile.email === null) throw new UsageError('--email-verified needs an email address (--email EMAIL)');
  return profile;
}

function checked(value: string, problem: string | undefined): string {
  if (problem !== undefined) throw new UsageError(problem);
  return value;
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

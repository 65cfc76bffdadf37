/**
 * /users: resource owners, with the rules `tessera user …` keeps (lifecycle/user-rules.ts, the
 * password policy), shown as `user list --json` shows them (never a password hash).
 */
import { z } from 'zod';
import { userJson } from '../../cli/commands/user.js';
import { passwordProblem } from '../../lifecycle/password-policy.js';
import { NO_PROFILE } from '../../lifecycle/principals.js';
import { emailProblem, nameProblem, profileAfter, usernameProblem } from '../../lifecycle/user-rules.js';
import type { ServerConfig } from '../../config.js';
import { decodeCursor, principalPage } from '../cursor.js';
import { Problem } from '../problem.js';
import { route } from '../route.js';
import { pageOf, paging, revoked, search } from '../schemas.js';

const checked = (problem: (v: string, label: string) => string | undefined, label: string) =>
  z.string().superRefine((v, ctx) => {
    const p = problem(v, label);
    if (p !== undefined) ctx.addIssue({ code: 'custom', message: p });
  });

/** name and email: an empty string removes the claim. */
const profile = {
  name: checked(nameProblem, 'name').optional().describe("the OpenID Connect 'name' claim; '' removes it"),
  email: checked((v, label) => (v === '' ? undefined : emailProblem(v, label)), 'email').optional().describe("the 'email' claim; '' removes it"),
  email_verified: z.boolean().optional().describe('whether the operator vouches for the email; a changed email is unverified unless this says otherwise'),
};

const password = z.string().min(1).max(4096).describe('checked against the password policy (length, the most common passwords); never shown again');

const user = z.object({ id: z.string(), username: z.string(), name: z.string().nullable(), email: z.string().nullable(), email_verified: z.boolean(), created_at: z.string() });

async function policy(value: string, config: ServerConfig): Promise<void> {
  const problem = await passwordProblem(value, { minLength: config.passwordMinLength, maxLength: config.passwordMaxLength });
  if (problem) throw new Problem(422, problem, [{ pointer: '/body/password', detail: problem }]);
}

function checkedProfile(p: ReturnType<typeof profileAfter>) {
  if (p.emailVerified && p.email === null) throw new Problem(422, 'email_verified needs an email address', [{ pointer: '/body/email_verified', detail: 'needs an email' }]);
  return p;
}

const notFound = (id: string) => new Problem(404, `no user with id '${id.slice(0, 128)}'`);

export const userRoutes = [
  route({
    method: 'GET', path: '/users', tag: 'users', summary: 'list users, oldest first (never their password hashes); q searches their usernames, names, emails and ids', status: 200,
    query: z.strictObject({ q: search, ...paging }), response: pageOf(user),
    async handle({ query, tessera }) {
      const afterId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 'string');
      const shown = principalPage(await tessera.store.pageUsers({ afterId, q: query.q, limit: query.limit + 1 }), query.limit);
      return { items: shown.items.map(userJson), next_cursor: shown.next_cursor };
    },
  }),
  route({
    method: 'POST', path: '/users', tag: 'users', summary: 'create a user', status: 201, response: user,
    body: z.strictObject({ username: checked(usernameProblem, 'username'), password, ...profile }),
    async handle({ body, by, tessera }) {
      const made = checkedProfile(profileAfter(NO_PROFILE, { name: body.name, email: body.email, emailVerified: body.email_verified }));
      const taken = () => new Problem(409, 'a user with that username exists already');
      if (await tessera.store.getUserByName(body.username)) throw taken();
      await policy(body.password, tessera.config);
      try {
        return userJson(await tessera.engine.createUser(body.username, body.password, by, made));
      } catch (err) {
        // Two requests for one new username at once: the store's unique index lets one in.
        if (await tessera.store.getUserByName(body.username)) throw taken();
        throw err;
      }
    },
  }),
  route({
    method: 'GET', path: '/users/{id}', tag: 'users', summary: 'one user', status: 200, response: user,
    async handle({ params, tessera }) {
      const found = await tessera.store.getUser(params.id as string);
      if (!found) throw notFound(params.id as string);
      return userJson(found);
    },
  }),
  route({
    method: 'PATCH', path: '/users/{id}', tag: 'users', status: 200, response: user.extend(revoked.partial().shape),
    summary: "change a user's profile (revokes nothing) or password (revokes the user's grants and ends their sessions)",
    body: z.strictObject({ ...profile, password: password.optional() }),
    async handle({ params, body, by, tessera }) {
      const id = params.id as string;
      const current = await tessera.store.getUser(id);
      if (!current) throw notFound(id);
      if (body.name === undefined && body.email === undefined && body.email_verified === undefined && body.password === undefined) {
        throw new Problem(400, 'nothing to change: give name, email, email_verified or password');
      }
      const changed = checkedProfile(profileAfter(current, { name: body.name, email: body.email, emailVerified: body.email_verified }));
      if (body.password !== undefined) await policy(body.password, tessera.config);
      if (body.name !== undefined || body.email !== undefined || body.email_verified !== undefined) {
        if (!(await tessera.engine.setUserProfile(current, changed, by))) throw notFound(id);
      }
      const result = body.password === undefined ? undefined : await tessera.engine.setPassword(id, body.password, by);
      if (body.password !== undefined && !result) throw notFound(id);
      return { ...userJson({ ...current, ...changed }), ...(result ? { revoked_tokens: result.tokens, revoked_grants: result.grants } : {}) };
    },
  }),
  route({
    method: 'DELETE', path: '/users/{id}', tag: 'users', summary: "delete a user, revoke the user's grants and tokens, end their sessions", status: 200,
    response: revoked.extend({ id: z.string(), deleted: z.literal(true) }),
    async handle({ params, by, tessera }) {
      const id = params.id as string;
      const result = await tessera.engine.deleteUser(id, by);
      if (!result) throw notFound(id);
      return { id, deleted: true, revoked_tokens: result.tokens, revoked_grants: result.grants };
    },
  }),
];

/** Browser sessions: started at a login, found again from their cookie. Only a session's hash is stored. */
import { hashSecret, randomSecret } from '../secrets.js';
import type { SessionRecord, UserRecord } from '../store/types.js';
import type { Actor, EngineContext } from './context.js';
import { revoke } from './revoke.js';
import { passwordChecked } from './credentials.js';

/** A user signed in through a browser session: what they authorize is written only while it lasts. */
export interface SignedIn {
  user: UserRecord;
  session: SessionRecord;
}

/**
 * Starts a browser session for a user who just proved their password; returns the cookie value
 * (only its hash is stored), or undefined if the password (or the user) changed after it was
 * checked: the session is written only if `user.passwordHash` is still the stored one.
 */
export async function startSession(ctx: EngineContext, user: UserRecord): Promise<string | undefined> {
  // A fresh session value at every login (no session fixation).
  const value = randomSecret();
  const now = ctx.now();
  const session = { hash: hashSecret(value), userId: user.id, createdAt: now, expiresAt: now + ctx.config.sessionTtl * 1000 };
  const created = await ctx.store.createSession(session, passwordChecked(user));
  return created === 'created' ? value : undefined;
}

/**
 * Signs the user out (OpenID Connect RP-Initiated Logout): ends the browser session, audited; with
 * config.logoutRevokesTokens, then revokes every grant and token of the user. False when the
 * session had already ended.
 */
export async function endSession(ctx: EngineContext, signedIn: SignedIn, by: Actor): Promise<boolean> {
  const userId = signedIn.user.id;
  const ended = await ctx.store.endSession(signedIn.session.hash, [{ event: 'session.ended', ...by, userId }]);
  if (ctx.config.logoutRevokesTokens) {
    const reason = 'signed out';
    await revoke(ctx, { user: userId }, { ...by, reason }, undefined, { userId });
  }
  return ended;
}

/** The signed-in user and their session, from the session cookie's value, if the session is live and the user exists. */
export async function signedIn(ctx: EngineContext, value: string): Promise<SignedIn | undefined> {
  const session = await ctx.store.findSessionByHash(hashSecret(value));
  if (!session || session.expiresAt <= ctx.now()) return undefined;
  const user = await ctx.store.getUser(session.userId);
  return user && { user, session };
}

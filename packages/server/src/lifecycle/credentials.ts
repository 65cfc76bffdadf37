/**
 * Writes are conditional on the credentials a request was checked with (CheckedCredentials): a
 * secret rotated, a password changed or a session ended before the commit means nothing is
 * written, and the request fails as if the check had.
 */
import { OAuthError, basicChallenge } from '@tessera/core';
import type { CheckedCredentials, ClientRecord, SessionRecord, UserRecord } from '../store/types.js';

/** A revocation of the grant committed between our check and our write: nothing was issued. */
export const grantRevoked = () => new OAuthError('invalid_grant', 'the grant was revoked');

/**
 * A credential the request was checked with changed before the write committed (a password set,
 * a secret rotated, a user or client deleted): nothing was issued, as if the check had failed.
 */
export function credentialChanged(checked: CheckedCredentials): OAuthError {
  // RFC 6749 §5.2: invalid_client is a 401; the challenge is owed if Basic was tried, harmless if not.
  return checked.user
    ? new OAuthError('invalid_grant', 'invalid username or password')
    : new OAuthError('invalid_client', 'client authentication failed', basicChallenge());
}

/**
 * The browser session a request acted through ended (a password change, the user's deletion, a
 * sign-out) before its write committed: nothing was stored, and the user must sign in again.
 */
export class SessionEnded extends Error {
  constructor() {
    super('the browser session ended');
    this.name = 'SessionEnded';
  }
}

/** What a signed-in user does is written only while their session still exists. */
export const throughSession = (user: UserRecord, session: SessionRecord): CheckedCredentials => ({ session: { hash: session.hash, userId: user.id } });

/** The client as it was authenticated: writes on its behalf are conditional on its secret. */
export const asChecked = (client: ClientRecord, user?: UserRecord): CheckedCredentials => ({
  client: { id: client.id, secretHash: client.secretHash },
  ...(user ? passwordChecked(user) : {}),
});

/** The user as their password was checked: a write on their behalf is conditional on it. */
export const passwordChecked = (user: UserRecord) => ({ user: { id: user.id, passwordHash: user.passwordHash } });

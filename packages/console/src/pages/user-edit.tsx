/**
 * A user's profile and password, changed through PATCH /users/{id}: the profile (the OpenID
 * Connect name and email claims) with only the fields changed; a new password behind a
 * confirmation, as it revokes the user's grants and ends their sessions.
 */
import { useState } from 'preact/hooks';
import { api, type Revoked, type Session, type User } from '../api.js';
import type { Confirmation } from '../confirm.js';
import { count, Messages, useFailureHandler } from './common.js';

export function EditUser({ session, user, onSaved, confirm }: {
  session: Session;
  user: User;
  /** The profile was saved: the page's notice. */
  onSaved: (message: string) => void;
  /** Ask the page's confirmation dialog. */
  confirm: (c: Confirmation) => void;
}) {
  const [name, setName] = useState(user.name ?? '');
  const [email, setEmail] = useState(user.email ?? '');
  const [verified, setVerified] = useState(user.email_verified);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const failed = useFailureHandler(setError);
  const path = `/users/${encodeURIComponent(user.id)}`;

  async function saveProfile(e: Event) {
    e.preventDefault();
    setError(undefined);
    const changes: { name?: string; email?: string; email_verified?: boolean } = {};
    if (name.trim() !== (user.name ?? '')) changes.name = name.trim();
    if (email.trim() !== (user.email ?? '')) changes.email = email.trim();
    // A changed email is unverified unless the operator says so: send the box with it.
    if (verified !== user.email_verified || changes.email !== undefined) changes.email_verified = verified && email.trim() !== '';
    if (Object.keys(changes).length === 0) {
      onSaved('Nothing changed.');
      return;
    }
    try {
      await api<User>(session, 'PATCH', path, changes);
      onSaved(`Saved ${user.username}'s profile: ${Object.keys(changes).join(', ')} changed.`);
    } catch (err) {
      failed(err);
    }
  }

  function askPassword(e: Event) {
    e.preventDefault();
    setError(undefined);
    const value = password;
    confirm({
      title: `Set a new password for ${user.username}?`,
      message: `This replaces ${user.username}'s password, revokes all their grants and tokens and ends their sessions: they will have to sign in again.`,
      action: 'Set password',
      run: async () => {
        const r = await api<Revoked>(session, 'PATCH', path, { password: value });
        setPassword('');
        return `Set a new password for ${user.username}: revoked ${count(r.revoked_tokens, 'token')} and ${count(r.revoked_grants, 'grant')}.`;
      },
    });
  }

  return (
    <details class="create">
      <summary>Edit user</summary>
      <Messages error={error} notice={undefined} />
      <form onSubmit={saveProfile} aria-labelledby="profile-title">
        <h3 id="profile-title">Profile</h3>
        <label for="user-name">Name</label>
        <input id="user-name" maxLength={200} autocomplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} aria-describedby="user-claims-help" />
        <label for="user-email">Email</label>
        <input id="user-email" type="email" autocomplete="off" value={email} onInput={(e) => setEmail(e.currentTarget.value)} aria-describedby="user-claims-help" />
        <p id="user-claims-help" class="help">
          The OpenID Connect name and email claims; empty removes one.
        </p>
        <label class="check">
          <input type="checkbox" checked={verified} disabled={email.trim() === ''} onChange={(e) => setVerified(e.currentTarget.checked)} />
          Email verified
        </label>
        <button type="submit">Save profile</button>
      </form>
      <form onSubmit={askPassword} aria-labelledby="password-title">
        <h3 id="password-title">Password</h3>
        <label for="user-password">New password</label>
        <input id="user-password" type="password" required autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} aria-describedby="user-password-help" />
        <p id="user-password-help" class="help">
          Checked against the password policy. Setting it revokes the user's grants and tokens and ends their sessions.
        </p>
        <button type="submit" class="danger">
          Set password…
        </button>
      </form>
    </details>
  );
}

/**
 * One user: the profile (and a form to change it), a button that revokes all the user holds, and
 * the user's grants with their token families as timelines (grants.tsx).
 */
import { useState } from 'preact/hooks';
import { api, type Session, type User } from '../api.js';
import { useConfirmation } from '../confirm.js';
import { Grants } from '../grants.js';
import { BASE, Link } from '../router.js';
import { activeCounts, count, Messages, type PageProps, revocation, useLoaded } from './common.js';
import { EditUser } from './user-edit.js';

interface Data {
  user: User;
  active: { tokens: number; grants: number; more: boolean };
}

async function load(session: Session, id: string): Promise<Data> {
  const [user, active] = await Promise.all([api<User>(session, 'GET', `/users/${encodeURIComponent(id)}`), activeCounts(session, `user_id=${encodeURIComponent(id)}`)]);
  return { user, active };
}

export function UserPage({ session, onSignedOut, id }: PageProps & { id: string }) {
  const { data, error, setError, refresh: reload } = useLoaded(onSignedOut, () => load(session, id), [session, id]);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const { ask, dialog } = useConfirmation((result) => {
    setNotice(result);
    refresh();
  });
  // Bumped after a change made here: the grants are read again with the counts.
  const [version, setVersion] = useState(0);
  const refresh = () => {
    setVersion((v) => v + 1);
    return reload();
  };

  const revoke = (type: 'user', value: string, title: string, message: string, action: string) => ask(revocation(session, type, value, { title, message, action }));

  if (!data) {
    return (
      <section>
        <h1>User</h1>
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : (
          <p>Loading…</p>
        )}
      </section>
    );
  }
  const { user } = data;
  const active = count(data.active.tokens, 'active token', data.active.more);
  const activeGrants = count(data.active.grants, 'active grant', data.active.more);
  return (
    <section aria-labelledby="user-title">
      <p>
        <Link href={`${BASE}/users`}>← Users</Link>
      </p>
      <h1 id="user-title">User {user.username}</h1>
      <p class="help">
        {user.id}
        {user.email ? ` · ${user.email}` : ''} · {activeGrants}, {active}
      </p>
      <Messages error={error} notice={notice} />
      {!session.read_only && (
        <EditUser
          session={session}
          user={user}
          confirm={ask}
          onSaved={(message) => {
            setNotice(message);
            refresh();
          }}
        />
      )}
      {!session.read_only && (
        <button
          type="button"
          class="danger"
          disabled={data.active.tokens === 0 && data.active.grants === 0}
          onClick={() => revoke('user', user.id, `Revoke everything of ${user.username}?`, `This revokes all ${activeGrants} and ${active} of ${user.username}. They will have to sign in and consent again.`, 'Revoke all')}
        >
          Revoke all of {user.username}'s tokens
        </button>
      )}
      <h2>Grants</h2>
      <Grants
        session={session}
        onSignedOut={onSignedOut}
        filter={`user_id=${encodeURIComponent(user.id)}`}
        of="user"
        version={version}
        onChanged={(message) => {
          setNotice(message);
          refresh();
        }}
        onError={setError}
      />
      {dialog}
    </section>
  );
}

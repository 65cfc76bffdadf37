import { useState } from 'preact/hooks';
import { api, type User } from '../api.js';
import { deletion, List } from '../list.js';
import { BASE, Link } from '../router.js';
import { type PageProps, useFailureHandler, when } from './common.js';

export function Users({ session, onSignedOut }: PageProps) {
  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      <List<User>
        session={session}
        onSignedOut={onSignedOut}
        path="/users"
        noun="user"
        searchHint="username, name, email or id"
        columns={['Username', 'Name', 'Email', 'Created']}
        rowKey={(u) => u.id}
        testId={(u) => `user-row-${u.username}`}
        label={(u) => u.username}
        cells={(u) => [<Link key="user" href={`${BASE}/users/${encodeURIComponent(u.id)}`}>{u.username}</Link>, u.name ?? '—', u.email ?? '—', when(u.created_at)]}
        confirmDelete={(u) =>
          deletion(session, {
            noun: 'user', name: u.username, path: `/users/${encodeURIComponent(u.id)}`, filter: `user_id=${encodeURIComponent(u.id)}`,
            says: (tokens, grants) => `This deletes user ${u.username}, revokes ${tokens} and ${grants}, and ends their sessions. It cannot be undone.`,
          })
        }
        header={(created) => <CreateUser session={session} onCreated={created} />}
      />
    </section>
  );
}

function CreateUser({ session, onCreated }: { session: PageProps['session']; onCreated: (message: string, search: string) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const failed = useFailureHandler(setError);
  async function submit(e: Event) {
    e.preventDefault();
    setError(undefined);
    try {
      const made = await api<User>(session, 'POST', '/users', { username: username.trim(), password });
      setUsername('');
      setPassword('');
      onCreated(`Created user ${made.username}.`, made.username);
    } catch (err) {
      failed(err);
    }
  }
  return (
    <details class="create">
      <summary>New user</summary>
      <form onSubmit={submit}>
        <label for="user-username">Username</label>
        <input id="user-username" required autocomplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="user-password">Password</label>
        <input id="user-password" type="password" required autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit">Create user</button>
      </form>
    </details>
  );
}

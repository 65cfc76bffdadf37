import { useEffect, useState } from 'preact/hooks';
import { ApiError, all, api, type Revoked, type User } from '../api.js';
import { type Confirmation, ConfirmDialog, count } from '../confirm.js';
import { BASE, Link } from '../router.js';
import { activeCounts, Messages, type PageProps, when } from './common.js';

export function Users({ session, onSignedOut }: PageProps) {
  const [users, setUsers] = useState<{ items: User[]; more: boolean } | undefined>(undefined);
  const [search, setSearch] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [confirmation, setConfirmation] = useState<Confirmation | undefined>(undefined);
  async function load() {
    try {
      setUsers(await all<User>(session, '/users'));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onSignedOut();
      else setError((err as Error).message);
    }
  }
  useEffect(() => {
    load();
  }, [session]);

  async function askDelete(u: User) {
    try {
      const n = await activeCounts(session, `user_id=${encodeURIComponent(u.id)}`);
      setConfirmation({
        title: `Delete user ${u.username}?`,
        message: `This deletes user ${u.username}, revokes ${count(n.tokens, 'active token', n.more)} and ${count(n.grants, 'active grant', n.more)}, and ends their sessions. It cannot be undone.`,
        action: 'Delete user',
        run: async () => {
          const r = await api<Revoked>(session, 'DELETE', `/users/${encodeURIComponent(u.id)}`);
          return `Deleted user ${u.username}: revoked ${count(r.revoked_tokens, 'token')} and ${count(r.revoked_grants, 'grant')}.`;
        },
      });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  const q = search.trim().toLowerCase();
  const shown = users?.items.filter((u) => q === '' || [u.username, u.name ?? '', u.email ?? '', u.id].some((v) => v.toLowerCase().includes(q))) ?? [];
  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      <Messages error={error} notice={notice} />
      {!session.read_only && <CreateUser session={session} onCreated={(msg) => {
            setNotice(msg);
            load();
          }} />}
      <label for="user-search">Search users</label>
      <input id="user-search" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="username, name, email or id" />
      {!users ? (
        <p>Loading…</p>
      ) : (
        <table>
          <caption>
            {count(shown.length, 'user')}
            {users.more ? ' (the first 5000)' : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Created</th>
              {!session.read_only && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {shown.map((u) => (
              <tr key={u.id} data-testid={`user-row-${u.username}`}>
                <th scope="row">
                  <Link href={`${BASE}/users/${encodeURIComponent(u.id)}`}>{u.username}</Link>
                </th>
                <td>{u.name ?? '—'}</td>
                <td>{u.email ?? '—'}</td>
                <td>{when(u.created_at)}</td>
                {!session.read_only && (
                  <td>
                    <button type="button" class="danger" onClick={() => askDelete(u)} aria-label={`Delete user ${u.username}`}>
                      Delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ConfirmDialog
        confirmation={confirmation}
        onClose={(result) => {
          setConfirmation(undefined);
          if (result) {
            setNotice(result);
            load();
          }
        }}
      />
    </section>
  );
}

function CreateUser({ session, onCreated }: { session: PageProps['session']; onCreated: (message: string) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  async function submit(e: Event) {
    e.preventDefault();
    setError(undefined);
    try {
      const made = await api<User>(session, 'POST', '/users', { username: username.trim(), password });
      setUsername('');
      setPassword('');
      onCreated(`Created user ${made.username}.`);
    } catch (err) {
      setError((err as Error).message);
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

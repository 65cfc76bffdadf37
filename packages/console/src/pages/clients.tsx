import { useEffect, useState } from 'preact/hooks';
import { ApiError, all, api, type Client, type Revoked } from '../api.js';
import { type Confirmation, ConfirmDialog, count } from '../confirm.js';
import { BASE, Link } from '../router.js';
import { CreateClient } from './client-form.js';
import { activeCounts, Messages, type PageProps, when } from './common.js';

export function Clients({ session, onSignedOut }: PageProps) {
  const [clients, setClients] = useState<{ items: Client[]; more: boolean } | undefined>(undefined);
  const [search, setSearch] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [confirmation, setConfirmation] = useState<Confirmation | undefined>(undefined);
  async function load() {
    try {
      setClients(await all<Client>(session, '/clients'));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onSignedOut();
      else setError((err as Error).message);
    }
  }
  useEffect(() => {
    load();
  }, [session]);

  async function askDelete(c: Client) {
    try {
      const n = await activeCounts(session, `client_id=${encodeURIComponent(c.client_id)}`);
      setConfirmation({
        title: `Delete client ${c.name}?`,
        message: `This deletes client ${c.name} (${c.client_id}) and revokes ${count(n.tokens, 'active token', n.more)} and ${count(n.grants, 'active grant', n.more)} issued to it. It cannot be undone.`,
        action: 'Delete client',
        run: async () => {
          const r = await api<Revoked>(session, 'DELETE', `/clients/${encodeURIComponent(c.client_id)}`);
          return `Deleted client ${c.name}: revoked ${count(r.revoked_tokens, 'token')} and ${count(r.revoked_grants, 'grant')}.`;
        },
      });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  const q = search.trim().toLowerCase();
  const shown = clients?.items.filter((c) => q === '' || c.name.toLowerCase().includes(q) || c.client_id.toLowerCase().includes(q)) ?? [];
  return (
    <section aria-labelledby="clients-title">
      <h1 id="clients-title">Clients</h1>
      <Messages error={error} notice={notice} />
      {!session.read_only && <CreateClient session={session} onCreated={(msg) => {
            setNotice(msg);
            load();
          }} />}
      <label for="client-search">Search clients</label>
      <input id="client-search" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="name or client_id" />
      {!clients ? (
        <p>Loading…</p>
      ) : (
        <table>
          <caption>
            {count(shown.length, 'client')}
            {clients.more ? ' (the first 5000)' : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">client_id</th>
              <th scope="col">Grant types</th>
              <th scope="col">Created</th>
              {!session.read_only && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.client_id} data-testid={`client-row-${c.client_id}`}>
                <th scope="row">
                  <Link href={`${BASE}/clients/${encodeURIComponent(c.client_id)}`}>{c.name}</Link>
                </th>
                <td>
                  <code>{c.client_id}</code>
                </td>
                <td>{c.grant_types.join(', ')}</td>
                <td>{when(c.created_at)}</td>
                {!session.read_only && (
                  <td>
                    <button type="button" class="danger" onClick={() => askDelete(c)} aria-label={`Delete client ${c.name}`}>
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

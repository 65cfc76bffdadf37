import { useState } from 'preact/hooks';
import { api, type Client } from '../api.js';
import { deletion, List } from '../list.js';
import { type PageProps, when } from './common.js';

const GRANT_TYPES = ['client_credentials', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'];

export function Clients({ session, onSignedOut }: PageProps) {
  return (
    <section aria-labelledby="clients-title">
      <h1 id="clients-title">Clients</h1>
      <List<Client>
        session={session}
        onSignedOut={onSignedOut}
        path="/clients"
        noun="client"
        searchHint="name or client_id"
        columns={['Name', 'client_id', 'Grant types', 'Created']}
        rowKey={(c) => c.client_id}
        testId={(c) => `client-row-${c.client_id}`}
        label={(c) => c.name}
        cells={(c) => [c.name, <code key="id">{c.client_id}</code>, c.grant_types.join(', '), when(c.created_at)]}
        confirmDelete={(c) =>
          deletion(session, {
            noun: 'client', name: c.name, path: `/clients/${encodeURIComponent(c.client_id)}`, filter: `client_id=${encodeURIComponent(c.client_id)}`,
            says: (tokens, grants) => `This deletes client ${c.name} (${c.client_id}) and revokes ${tokens} and ${grants} issued to it. It cannot be undone.`,
          })
        }
        header={(created) => <CreateClient session={session} onCreated={created} />}
      />
    </section>
  );
}

function CreateClient({ session, onCreated }: { session: PageProps['session']; onCreated: (message: string, search: string) => void }) {
  const [name, setName] = useState('');
  const [grants, setGrants] = useState<string[]>(['client_credentials']);
  const [redirect, setRedirect] = useState('');
  const [scope, setScope] = useState('read');
  const [error, setError] = useState<string | undefined>(undefined);
  const [secret, setSecret] = useState<{ id: string; secret: string } | undefined>(undefined);
  async function submit(e: Event) {
    e.preventDefault();
    setError(undefined);
    try {
      const made = await api<Client & { client_secret?: string }>(session, 'POST', '/clients', {
        name: name.trim(), grant_types: grants, scope: scope.trim(), ...(redirect.trim() === '' ? {} : { redirect_uris: [redirect.trim()] }),
      });
      setSecret(made.client_secret ? { id: made.client_id, secret: made.client_secret } : undefined);
      setName('');
      onCreated(`Created client ${made.name} (${made.client_id}).`, made.client_id);
    } catch (err) {
      setError((err as Error).message);
    }
  }
  return (
    <details class="create">
      <summary>New client</summary>
      <form onSubmit={submit}>
        <label for="client-name">Name</label>
        <input id="client-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <fieldset>
          <legend>Grant types</legend>
          {GRANT_TYPES.map((g) => (
            <label key={g} class="check">
              <input type="checkbox" checked={grants.includes(g)} onChange={(e) => setGrants(e.currentTarget.checked ? [...grants, g] : grants.filter((x) => x !== g))} />
              {g}
            </label>
          ))}
        </fieldset>
        <label for="client-redirect">Redirect URI (for authorization_code)</label>
        <input id="client-redirect" type="url" value={redirect} onInput={(e) => setRedirect(e.currentTarget.value)} />
        <label for="client-scope">Scope</label>
        <input id="client-scope" value={scope} onInput={(e) => setScope(e.currentTarget.value)} />
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit">Create client</button>
      </form>
      {secret && (
        <p role="status" class="notice">
          client_secret for <code>{secret.id}</code>, shown this once: <code data-testid="client-secret">{secret.secret}</code>
        </p>
      )}
    </details>
  );
}

import type { Client } from '../api.js';
import { deletion, List } from '../list.js';
import { BASE, Link } from '../router.js';
import { CreateClient } from './client-form.js';
import { type PageProps, when } from './common.js';

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
        cells={(c) => [
          <Link key="name" href={`${BASE}/clients/${encodeURIComponent(c.client_id)}`}>
            {c.name}
          </Link>,
          <code key="id">{c.client_id}</code>,
          c.grant_types.join(', '),
          when(c.created_at),
        ]}
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

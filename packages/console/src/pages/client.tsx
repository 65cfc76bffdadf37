/**
 * One client: its registration, a form to change it (PATCH /clients/{id}, only the fields
 * changed), and its secret's rotation (POST /clients/{id}/secret) behind a confirmation, with an
 * optional grace period for the old secret and revocation of what the client holds; the new
 * secret is shown once; then the client's grants with their token families as timelines (grants.tsx).
 */
import { useState } from 'preact/hooks';
import { api, type ClientRegistration, type Revoked } from '../api.js';
import { type Confirmation, ConfirmDialog } from '../confirm.js';
import { Grants } from '../grants.js';
import { BASE, Link } from '../router.js';
import { ClientForm, type ClientSettings, changed, OneTimeSecret } from './client-form.js';
import { count, Messages, type PageProps, useLoaded, when } from './common.js';

/** Authentication methods with a client_secret Tessera made, which can be rotated. */
const WITH_SECRET = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);

const list = (values: string[]): string => (values.length === 0 ? '—' : values.join(' '));
const seconds = (ttl: number | null): string => (ttl === null ? "the server's default" : `${ttl} s`);

interface Rotated extends Partial<Revoked> {
  client_id: string;
  client_secret: string;
  previous_secret_expires_at: string | null;
}

export function ClientPage({ session, onSignedOut, id }: PageProps & { id: string }) {
  const path = `/clients/${encodeURIComponent(id)}`;
  const { data: client, setData: setClient, error, setError } = useLoaded(onSignedOut, () => api<ClientRegistration>(session, 'GET', path), [session, id]);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [editing, setEditing] = useState(false);
  // A new form (fields from the registration as stored) after each save.
  const [saved, setSaved] = useState(0);
  const [rotating, setRotating] = useState(false);
  const [grace, setGrace] = useState('');
  const [revoke, setRevoke] = useState(false);
  const [secret, setSecret] = useState<string | undefined>(undefined);
  // Bumped after a revocation made here: the grants are read again.
  const [version, setVersion] = useState(0);

  if (!client) {
    return (
      <section>
        <h1>Client</h1>
        <Messages error={error} notice={undefined} />
        {!error && <p>Loading…</p>}
      </section>
    );
  }

  async function save(settings: ClientSettings) {
    if (!client) return;
    const changes = changed(client, settings);
    if (Object.keys(changes).length === 0) {
      setNotice('Nothing changed.');
      return;
    }
    const updated = await api<ClientRegistration>(session, 'PATCH', path, changes);
    setClient(updated);
    setSaved(saved + 1);
    setEditing(false);
    setError(undefined);
    setNotice(`Saved client ${updated.name}: ${Object.keys(changes).join(', ')} changed. Tokens already issued keep what they were issued with.`);
  }

  const jwt = client.token_endpoint_auth_method === 'client_secret_jwt';
  const rotation: Confirmation | undefined = rotating
    ? {
        title: `Rotate the secret of ${client.name}?`,
        message: `This gives client ${client.name} (${client.client_id}) a new client_secret, shown once. The old secret stops working ${jwt ? 'at once' : 'at once, or after the grace period below'}. Tokens already issued stay valid unless you revoke them too.`,
        action: 'Rotate secret',
        run: async () => {
          const seconds = grace.trim() === '' ? 0 : Number(grace);
          if (!Number.isInteger(seconds) || seconds < 0) throw new Error('The grace period must be a whole number of seconds (0 or empty: none).');
          const r = await api<Rotated>(session, 'POST', `${path}/secret`, { grace: seconds, revoke });
          setSecret(r.client_secret);
          const until = r.previous_secret_expires_at ? `The old secret keeps working until ${when(r.previous_secret_expires_at)}.` : 'The old secret no longer works.';
          const revoked = r.revoked_tokens === undefined ? '' : ` Revoked ${count(r.revoked_tokens, 'token')} and ${count(r.revoked_grants ?? 0, 'grant')}.`;
          return `Rotated the secret of ${client.name}. ${until}${revoked}`;
        },
      }
    : undefined;

  const rows: [string, string][] = [
    ['Client authentication', client.token_endpoint_auth_method],
    ['Grant types', list(client.grant_types)],
    ['Redirect URIs', list(client.redirect_uris)],
    ['Post-logout redirect URIs', list(client.post_logout_redirect_uris)],
    ['Scope', client.scope],
    ['Resources', list(client.resources)],
    ['Exchange audiences', list(client.exchange_audiences)],
    ['Access token format', client.token_format],
    ['ID token signing', client.id_token_signed_response_alg],
    ['Access token lifetime', seconds(client.access_ttl)],
    ['Refresh token lifetime', seconds(client.refresh_ttl)],
    ['Requires DPoP', client.dpop_bound_access_tokens ? 'yes' : 'no'],
    ['Created', when(client.created_at)],
  ];
  return (
    <section aria-labelledby="client-title">
      <p>
        <Link href={`${BASE}/clients`}>← Clients</Link>
      </p>
      <h1 id="client-title">Client {client.name}</h1>
      <p class="help">
        <code>{client.client_id}</code>
      </p>
      <Messages error={error} notice={notice} />
      {secret && <OneTimeSecret clientId={client.client_id} secret={secret} onDone={() => setSecret(undefined)} />}
      <h2>Registration</h2>
      <dl class="registration" data-testid="registration">
        {rows.map(([term, value]) => (
          <div key={term}>
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {!session.read_only && (
        <details class="create" open={editing} onToggle={(e) => setEditing(e.currentTarget.open)}>
          <summary>Edit registration</summary>
          <ClientForm key={saved} initial={client} id="client" submitLabel="Save changes" onSubmit={save} />
        </details>
      )}
      {!session.read_only && WITH_SECRET.has(client.token_endpoint_auth_method) && (
        <>
          <h2>Client secret</h2>
          <p class="help">A new secret is shown once. Tessera keeps only secrets' hashes: a lost one cannot be shown again, only replaced.</p>
          <button
            type="button"
            class="danger"
            onClick={() => {
              setGrace('');
              setRevoke(false);
              setRotating(true);
            }}
          >
            Rotate secret
          </button>
        </>
      )}
      <ConfirmDialog
        confirmation={rotation}
        onClose={(result) => {
          setRotating(false);
          if (result) {
            setError(undefined);
            setNotice(result);
            setVersion((v) => v + 1);
          }
        }}
      >
        {!jwt && (
          <>
            <label for="rotate-grace">Grace period for the old secret (seconds, optional)</label>
            <input id="rotate-grace" type="number" min={0} step={1} inputMode="numeric" value={grace} onInput={(e) => setGrace(e.currentTarget.value)} aria-describedby="rotate-grace-help" />
            <p id="rotate-grace-help" class="help">
              The old secret keeps working this long, so the client can be redeployed with the new one first.
            </p>
          </>
        )}
        <label class="check">
          <input type="checkbox" checked={revoke} onChange={(e) => setRevoke(e.currentTarget.checked)} />
          Also revoke every token and grant the client holds
        </label>
      </ConfirmDialog>
      <h2>Grants</h2>
      <Grants
        session={session}
        onSignedOut={onSignedOut}
        filter={`client_id=${encodeURIComponent(client.client_id)}`}
        of="client"
        version={version}
        onChanged={(message) => {
          setError(undefined);
          setNotice(message);
          setVersion((v) => v + 1);
        }}
        onError={setError}
      />
    </section>
  );
}

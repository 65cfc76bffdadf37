/**
 * A client's registration as a form, the one the clients page creates with and a client's page
 * edits with, and a new client_secret shown once (after creating a client or rotating its secret).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Client, type ClientRegistration } from '../api.js';
import { Messages, type PageProps, useFailureHandler } from './common.js';

/** The grant types the admin API takes (named as on the wire). */
const GRANT_TYPES = [
  'client_credentials', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:token-exchange', 'password', 'implicit',
];

/** How a new client authenticates at the token endpoint (private_key_jwt and client_secret_jwt need keys: the CLI or the API). */
const AUTH_METHODS = [
  ['client_secret_basic', 'client_secret_basic (a secret, HTTP Basic)'],
  ['client_secret_post', 'client_secret_post (a secret, in the form)'],
  ['none', 'none (a public client: no secret)'],
] as const;

/** The fields the form edits, as the admin API names them. */
export type ClientSettings = Pick<
  ClientRegistration, 'name' | 'grant_types' | 'redirect_uris' | 'post_logout_redirect_uris' | 'scope' | 'token_format' | 'access_ttl' | 'refresh_ttl' | 'dpop_bound_access_tokens'
> & { token_endpoint_auth_method?: string };

const NEW_CLIENT: ClientSettings = {
  name: '', grant_types: ['client_credentials'], redirect_uris: [], post_logout_redirect_uris: [], scope: 'read', token_format: 'opaque', access_ttl: null, refresh_ttl: null,
  dpop_bound_access_tokens: false, token_endpoint_auth_method: 'client_secret_basic',
};

const lines = (text: string): string[] => [...new Set(text.split('\n').map((l) => l.trim()).filter((l) => l !== ''))];

/** A lifetime field: empty is the server's default (null); otherwise whole seconds. */
function ttl(label: string, text: string): number | null {
  if (text.trim() === '') return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${label} must be a whole number of seconds, or empty for the server's default.`);
  return n;
}

/** The fields of `after` that differ from `before`: what a PATCH needs to send. */
export function changed(before: ClientSettings, after: ClientSettings): Partial<ClientSettings> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(after) as (keyof ClientSettings)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) out[key] = after[key];
  }
  return out as Partial<ClientSettings>;
}

/**
 * The registration's fields; `onSubmit` gets them as the API takes them and answers with a
 * message, or throws one (shown here; a 401 signs out). `create`: also the authentication method, fixed after.
 */
export function ClientForm({ initial, id, create = false, submitLabel, onSubmit }: {
  initial: ClientSettings;
  /** Prefix of the fields' ids: unique on the page. */
  id: string;
  create?: boolean;
  submitLabel: string;
  onSubmit: (settings: ClientSettings) => Promise<void>;
}) {
  const [name, setName] = useState(initial.name);
  const [authMethod, setAuthMethod] = useState(initial.token_endpoint_auth_method ?? 'client_secret_basic');
  const [grants, setGrants] = useState(initial.grant_types);
  const [redirects, setRedirects] = useState(initial.redirect_uris.join('\n'));
  const [logoutRedirects, setLogoutRedirects] = useState(initial.post_logout_redirect_uris.join('\n'));
  const [scope, setScope] = useState(initial.scope);
  const [format, setFormat] = useState(initial.token_format);
  const [accessTtl, setAccessTtl] = useState(initial.access_ttl === null ? '' : String(initial.access_ttl));
  const [refreshTtl, setRefreshTtl] = useState(initial.refresh_ttl === null ? '' : String(initial.refresh_ttl));
  const [dpop, setDpop] = useState(initial.dpop_bound_access_tokens);
  const [error, setError] = useState<string | undefined>(undefined);
  const failed = useFailureHandler(setError);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      await onSubmit({
        name: name.trim(), grant_types: grants, redirect_uris: lines(redirects), post_logout_redirect_uris: lines(logoutRedirects), scope: scope.trim(), token_format: format,
        access_ttl: ttl('The access token lifetime', accessTtl), refresh_ttl: ttl('The refresh token lifetime', refreshTtl), dpop_bound_access_tokens: dpop,
        ...(create ? { token_endpoint_auth_method: authMethod } : {}),
      });
    } catch (err) {
      failed(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form onSubmit={submit} class="client-form">
      <label for={`${id}-name`}>Name</label>
      <input id={`${id}-name`} required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      {create && (
        <>
          <label for={`${id}-auth`}>Client authentication</label>
          <select id={`${id}-auth`} value={authMethod} onChange={(e) => setAuthMethod(e.currentTarget.value)}>
            {AUTH_METHODS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </>
      )}
      <fieldset>
        <legend>Grant types</legend>
        {GRANT_TYPES.map((g) => (
          <label key={g} class="check">
            <input type="checkbox" checked={grants.includes(g)} onChange={(e) => setGrants(e.currentTarget.checked ? [...grants, g] : grants.filter((x) => x !== g))} />
            {g}
          </label>
        ))}
      </fieldset>
      <label for={`${id}-redirects`}>Redirect URIs (one a line; for authorization_code)</label>
      <textarea id={`${id}-redirects`} rows={3} spellcheck={false} value={redirects} onInput={(e) => setRedirects(e.currentTarget.value)} />
      <label for={`${id}-logout`}>Post-logout redirect URIs (one a line)</label>
      <textarea id={`${id}-logout`} rows={2} spellcheck={false} value={logoutRedirects} onInput={(e) => setLogoutRedirects(e.currentTarget.value)} />
      <label for={`${id}-scope`}>Scope</label>
      <input id={`${id}-scope`} required value={scope} onInput={(e) => setScope(e.currentTarget.value)} aria-describedby={`${id}-scope-help`} />
      <p id={`${id}-scope-help`} class="help">
        Space-separated scope tokens the client may ask for.
      </p>
      <label for={`${id}-format`}>Access token format</label>
      <select id={`${id}-format`} value={format} onChange={(e) => setFormat(e.currentTarget.value as ClientSettings['token_format'])}>
        <option value="opaque">opaque (checked by introspection)</option>
        <option value="jwt">jwt (RFC 9068)</option>
      </select>
      <label for={`${id}-access-ttl`}>Access token lifetime (seconds)</label>
      <input id={`${id}-access-ttl`} type="number" min={1} step={1} inputMode="numeric" value={accessTtl} onInput={(e) => setAccessTtl(e.currentTarget.value)} aria-describedby={`${id}-ttl-help`} />
      <label for={`${id}-refresh-ttl`}>Refresh token lifetime (seconds)</label>
      <input id={`${id}-refresh-ttl`} type="number" min={1} step={1} inputMode="numeric" value={refreshTtl} onInput={(e) => setRefreshTtl(e.currentTarget.value)} aria-describedby={`${id}-ttl-help`} />
      <p id={`${id}-ttl-help`} class="help">
        Empty: the server's default.
      </p>
      <label class="check">
        <input type="checkbox" checked={dpop} onChange={(e) => setDpop(e.currentTarget.checked)} />
        Require DPoP-bound access tokens (RFC 9449)
      </label>
      <Messages error={error} notice={undefined} />
      <button type="submit" disabled={busy}>
        {submitLabel}
      </button>
    </form>
  );
}

/** A client_secret shown this once: a read-only field to copy it from, and the warning that it will not be shown again. */
export function OneTimeSecret({ clientId, secret, onDone }: { clientId: string; secret: string; onDone: () => void }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<string | undefined>(undefined);
  // Focus and select it: the operator's next step is to copy it. Once the confirmation dialog
  // that asked for it has closed, as closing gives the focus back to the button that opened it.
  useEffect(() => {
    const focus = () => {
      field.current?.focus();
      field.current?.select();
    };
    const dialog = document.querySelector('dialog[open]');
    if (!dialog) return focus();
    dialog.addEventListener('close', focus, { once: true });
    return () => dialog.removeEventListener('close', focus);
  }, [secret]);

  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('Copied to the clipboard.');
    } catch {
      field.current?.select();
      setCopied('Selected: press Ctrl+C (⌘C) to copy.');
    }
  }
  return (
    <div class="one-time-secret">
      <p class="warning">
        <strong>Copy this client_secret now: it is shown only this once.</strong> Tessera keeps only its hash and cannot show it again.
      </p>
      <label for="one-time-secret">client_secret of {clientId}</label>
      <input ref={field} id="one-time-secret" data-testid="client-secret" readOnly value={secret} spellcheck={false} autocomplete="off" onFocus={(e) => e.currentTarget.select()} />
      <div class="actions">
        <button type="button" class="secondary" onClick={copy}>
          Copy
        </button>
        <button type="button" onClick={onDone}>
          Done
        </button>
      </div>
      {copied && <p role="status">{copied}</p>}
    </div>
  );
}

/** The clients page's "New client": the form, then the new client's secret once. */
/** `onCreated` gets the notice and what to search for to show the new client (it may not be on the list's first page). */
export function CreateClient({ session, onCreated }: { session: PageProps['session']; onCreated: (message: string, search: string) => void }) {
  const [secret, setSecret] = useState<{ id: string; secret: string } | undefined>(undefined);
  // A new, empty form after each client made.
  const [made, setMade] = useState(0);
  async function create(settings: ClientSettings) {
    const c = await api<Client & { client_secret?: string }>(session, 'POST', '/clients', settings);
    setSecret(c.client_secret ? { id: c.client_id, secret: c.client_secret } : undefined);
    setMade(made + 1);
    onCreated(`Created client ${c.name} (${c.client_id}).`, c.client_id);
  }
  return (
    <details class="create">
      <summary>New client</summary>
      <ClientForm key={made} initial={NEW_CLIENT} id="new-client" create submitLabel="Create client" onSubmit={create} />
      {secret && <OneTimeSecret clientId={secret.id} secret={secret.secret} onDone={() => setSecret(undefined)} />}
    </details>
  );
}

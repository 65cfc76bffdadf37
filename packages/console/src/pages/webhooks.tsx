/**
 * Lifecycle webhooks (GET/POST /webhooks, DELETE /webhooks/{id}, GET /webhooks/{id}/deliveries):
 * the subscriptions, a form to add one (its signing secret shown once), removal after a
 * confirmation, and a subscription's deliveries at /console/webhooks/{id}, newest first, a page
 * at a time from the server (the newest page read again every few seconds).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Page } from '../api.js';
import { useConfirmation } from '../confirm.js';
import { BASE, Link, navigate } from '../router.js';
import { count, failureHandler, Messages, type PageProps, when } from './common.js';

interface Webhook {
  id: string;
  url: string;
  events: string[];
  created_at: string;
}

interface Delivery {
  id: string;
  event: string;
  at: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
}

/** The events a subscription may name, by group (the server's webhooks/events.ts). */
const EVENT_GROUPS = [
  ['Tokens', ['token.issued', 'token.rotated', 'token.rotated_in_grace', 'token.revoked', 'token.reuse_detected', 'token.exchanged']],
  ['Grants', ['grant.created', 'grant.widened']],
  ['Clients', ['client.created', 'client.updated', 'client.secret_rotated', 'client.deleted']],
  ['Users', ['user.created', 'user.updated', 'user.password_changed', 'user.deleted']],
] as const;

/** Deliveries per page. */
const PAGE_SIZE = 20;
/** How often the newest page of deliveries is read again. */
const REFRESH_MS = 5_000;

export function Webhooks({ session, onSignedOut, id }: PageProps & { id?: string }) {
  const [webhooks, setWebhooks] = useState<Webhook[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [created, setCreated] = useState<(Webhook & { secret: string }) | undefined>(undefined);
  const { ask, dialog } = useConfirmation((result) => {
    setNotice(result);
    load();
  });
  const fail = failureHandler(onSignedOut, setError);
  async function load() {
    try {
      setWebhooks((await api<{ items: Webhook[] }>(session, 'GET', '/webhooks')).items);
    } catch (err) {
      fail(err);
    }
  }
  useEffect(() => {
    load();
  }, [session]);

  function askRemove(w: Webhook) {
    ask({
      title: 'Remove this webhook?',
      message: `This removes the subscription of ${w.url} to ${count(w.events.length, 'event')} and its deliveries, pending ones included: they will not be sent. It cannot be undone.`,
      action: 'Remove webhook',
      run: async () => {
        await api<void>(session, 'DELETE', `/webhooks/${encodeURIComponent(w.id)}`);
        if (created?.id === w.id) setCreated(undefined);
        if (id === w.id) navigate(`${BASE}/webhooks`);
        return `Removed the webhook to ${w.url}.`;
      },
    });
  }

  const selected = webhooks?.find((w) => w.id === id);
  return (
    <section aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      <Messages error={error} notice={notice} />
      {created && (
        <div class="notice secret" role="status" data-testid="webhook-secret">
          <p>
            Added a webhook to <strong>{created.url}</strong>. Its signing secret, shown only this once: give it to the receiver, which checks each
            <code> webhook-signature</code> with it.
          </p>
          <p>
            <code class="value">{created.secret}</code>
          </p>
          <button type="button" class="secondary" onClick={() => setCreated(undefined)}>
            I have kept it
          </button>
        </div>
      )}
      {!session.read_only && (
        <AddWebhook
          session={session}
          onAdded={(w) => {
            setCreated(w);
            setNotice(undefined);
            load();
          }}
          onError={fail}
        />
      )}
      {!webhooks ? (
        <p>Loading…</p>
      ) : (
        <table data-testid="webhooks">
          <caption>{count(webhooks.length, 'subscription')}</caption>
          <thead>
            <tr>
              <Headings names={['URL', 'Events', 'Created', 'Actions']} />
            </tr>
          </thead>
          <tbody>
            {webhooks.map((w) => (
              <tr key={w.id} data-testid={`webhook-${w.id}`}>
                <th scope="row">
                  <code>{w.url}</code>
                </th>
                <td>{w.events.join(', ')}</td>
                <td>{when(w.created_at)}</td>
                <td class="actions">
                  <Link href={`${BASE}/webhooks/${encodeURIComponent(w.id)}`}>Deliveries</Link>
                  {!session.read_only && (
                    <button type="button" class="danger" onClick={() => askRemove(w)} aria-label={`Remove the webhook to ${w.url}`}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {id !== undefined && webhooks && !selected && <p class="error">No webhook with id {id}.</p>}
      {selected && <Deliveries key={selected.id} session={session} webhook={selected} onError={fail} />}
      {dialog}
    </section>
  );
}

function AddWebhook({ session, onAdded, onError }: Pick<PageProps, 'session'> & { onAdded: (w: Webhook & { secret: string }) => void; onError: (err: unknown) => void }) {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<Set<string>>(new Set());
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const toggle = (event: string, on: boolean) => {
    const next = new Set(events);
    if (on) next.add(event);
    else next.delete(event);
    setEvents(next);
  };
  async function submit(e: Event) {
    e.preventDefault();
    setProblem(undefined);
    if (events.size === 0) {
      setProblem('Choose at least one event.');
      return;
    }
    setBusy(true);
    try {
      const made = await api<Webhook & { secret: string }>(session, 'POST', '/webhooks', { url: url.trim(), events: [...events] });
      setUrl('');
      setEvents(new Set());
      onAdded(made);
    } catch (err) {
      // A refused URL or a server without the sealing key: said next to the form.
      if (err instanceof ApiError && err.status !== 401) setProblem(err.message);
      else onError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section class="create" aria-labelledby="add-webhook-title">
      <h2 id="add-webhook-title">Add a webhook</h2>
      <form onSubmit={submit} class="webhook-form">
        <label for="webhook-url">Receiver URL</label>
        <input id="webhook-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://hooks.example.com/tessera" />
        <div class="event-groups">
          {EVENT_GROUPS.map(([group, names]) => (
            <fieldset key={group}>
              <legend>{group}</legend>
              {names.map((name) => (
                <label key={name} class="check">
                  <input type="checkbox" name="events" value={name} checked={events.has(name)} onChange={(e) => toggle(name, e.currentTarget.checked)} /> {name}
                </label>
              ))}
            </fieldset>
          ))}
        </div>
        {problem && (
          <p role="alert" class="error">
            {problem}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Add webhook
        </button>
      </form>
    </section>
  );
}

/** A subscription's deliveries, newest first: one server page at a time, older pages by cursor. */
function Deliveries({ session, webhook, onError }: Pick<PageProps, 'session'> & { webhook: Webhook; onError: (err: unknown) => void }) {
  // The cursors of the pages shown so far: the first page has none.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Page<Delivery> | undefined>(undefined);
  const [status, setStatus] = useState('');
  const cursor = cursors.at(-1) ?? null;
  async function load() {
    try {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (status !== '') query.set('status', status);
      if (cursor !== null) query.set('cursor', cursor);
      setPage(await api<Page<Delivery>>(session, 'GET', `/webhooks/${encodeURIComponent(webhook.id)}/deliveries?${query}`));
    } catch (err) {
      onError(err);
    }
  }
  useEffect(() => {
    load();
    // The first page follows new deliveries and attempts; an older one stays as it was read.
    if (cursor !== null) return;
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, [cursor, status]);
  return (
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">
        Deliveries to <code>{webhook.url}</code>
      </h2>
      <div class="filters">
        <div>
          <label for="delivery-status">Status</label>
          <select
            id="delivery-status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value);
              setCursors([null]);
            }}
          >
            <option value="">any</option>
            <option value="pending">pending</option>
            <option value="delivered">delivered</option>
            <option value="failed">failed</option>
          </select>
        </div>
        <div class="actions">
          <button type="button" class="secondary" onClick={() => (cursors.length === 1 ? load() : setCursors([null]))}>
            Newest
          </button>
        </div>
      </div>
      {!page ? (
        <p>Loading…</p>
      ) : (
        <>
          <table data-testid="deliveries">
            <caption>
              Page {cursors.length}: {count(page.items.length, 'delivery')}, newest first
            </caption>
            <thead>
              <tr>
                <Headings names={['Event', 'At', 'Status', 'Attempts', 'Last status code', 'Last error', 'Next try']} />
              </tr>
            </thead>
            <tbody>
              {page.items.map((d) => (
                <tr key={d.id} data-testid={`delivery-${d.status}`}>
                  <th scope="row">
                    <code>{d.event}</code>
                  </th>
                  <td>{when(d.at)}</td>
                  <td>{d.status}</td>
                  <td>{d.attempts}</td>
                  <td>{d.last_status ?? '—'}</td>
                  <td>{d.last_error ?? '—'}</td>
                  <td>{when(d.next_attempt_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="actions">
            <button type="button" class="secondary" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              Newer
            </button>
            <button type="button" class="secondary" disabled={page.next_cursor === null} onClick={() => page.next_cursor !== null && setCursors([...cursors, page.next_cursor])}>
              Older
            </button>
          </div>
        </>
      )}
    </section>
  );
}

/** A table's column headings. */
function Headings({ names }: { names: string[] }) {
  return (
    <>
      {names.map((name) => (
        <th scope="col" key={name}>
          {name}
        </th>
      ))}
    </>
  );
}

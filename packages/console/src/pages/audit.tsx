/**
 * The audit log: filtered by event, actor, client, user and time (the API's own filters), paged
 * by its cursor, with the hash chains' last full verification (GET /audit/verify, which the server
 * reuses for a minute) at the top, its age, and "Verify now" for a new pass (?fresh=true).
 */
import { useEffect, useState } from 'preact/hooks';
import { type AuditRecord, api, type Page } from '../api.js';
import { count, failureHandler, type PageProps, when } from './common.js';

interface Verification {
  ok: boolean;
  records: number;
  problem?: { seq: number; chain: number; reason: string };
  verified_at: string;
  age_seconds: number;
}

/** How long ago, from the server's age of the pass plus the time since it answered (no trust in this clock's agreement with the server's). */
function ago(seconds: number, at: string): string {
  if (seconds < 1) return 'just now';
  if (seconds < 60) return `${Math.floor(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `at ${when(at)}`;
}

/**
 * The verification's result, in a live region (announced when it changes), after its age, which
 * ticks outside it (not announced every second); "Verify now" asks for a new full pass, read-only
 * tokens too (it only reads). While a pass runs the button stays focusable, marked aria-disabled.
 */
function ChainStatus({ session, failed }: { session: PageProps['session']; failed: (err: unknown) => void }) {
  const [shown, setShown] = useState<{ v: Verification; received: number } | undefined>(undefined);
  const [verifying, setVerifying] = useState(true);
  const [now, setNow] = useState(Date.now());
  async function verify(fresh: boolean) {
    setVerifying(true);
    try {
      const v = await api<Verification>(session, 'GET', `/audit/verify${fresh ? '?fresh=true' : ''}`);
      setShown({ v, received: Date.now() });
      setNow(Date.now());
    } catch (err) {
      failed(err);
    } finally {
      setVerifying(false);
    }
  }
  useEffect(() => {
    verify(false);
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [session]);

  const v = verifying ? undefined : shown?.v;
  const result = !v
    ? 'Verifying the hash chains…'
    : v.ok
      ? `${count(v.records, 'record')}, hash chains intact (none altered or missing).`
      : `hash chain broken at record ${v.problem?.seq} (chain ${v.problem?.chain}): ${v.problem?.reason}.`;
  return (
    <div class="chain-check">
      <p data-testid="chain" class={v && !v.ok ? 'error' : 'notice'}>
        {v && shown && (
          <>
            Verified{' '}
            <time dateTime={v.verified_at} title={when(v.verified_at)}>
              {ago(v.age_seconds + Math.max(0, now - shown.received) / 1000, v.verified_at)}
            </time>
            :{' '}
          </>
        )}
        <span role="status">{result}</span>
      </p>
      <button type="button" class="secondary" aria-disabled={verifying ? 'true' : undefined} onClick={() => verifying || verify(true)}>
        Verify now
      </button>
    </div>
  );
}

const FILTERS = [
  { key: 'event', label: 'Event', placeholder: 'token.revoked' },
  { key: 'actor', label: 'Actor', placeholder: 'admin:ops' },
  { key: 'client_id', label: 'Client id', placeholder: '' },
  { key: 'user_id', label: 'User id', placeholder: '' },
] as const;

type Filters = Record<(typeof FILTERS)[number]['key'] | 'from' | 'to', string>;
const EMPTY: Filters = { event: '', actor: '', client_id: '', user_id: '', from: '', to: '' };

/** The filters as the API's query: a datetime-local input's value is local time, sent as UTC. */
function query(f: Filters): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(f)) {
    if (value.trim() === '') continue;
    q.set(key, key === 'from' || key === 'to' ? new Date(value).toISOString() : value.trim());
  }
  q.set('limit', '100');
  return q.toString();
}

export function Audit({ session, onSignedOut }: PageProps) {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [rows, setRows] = useState<AuditRecord[] | undefined>(undefined);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>(undefined);

  const failed = failureHandler(onSignedOut, setError);
  async function load(f: Filters, after: string | null) {
    try {
      const page = await api<Page<AuditRecord>>(session, 'GET', `/audit?${query(f)}${after ? `&cursor=${encodeURIComponent(after)}` : ''}`);
      setRows((old) => (after ? [...(old ?? []), ...page.items] : page.items));
      setCursor(page.next_cursor);
      setError(undefined);
    } catch (err) {
      failed(err);
    }
  }
  useEffect(() => {
    load(EMPTY, null);
  }, [session]);

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <ChainStatus session={session} failed={failed} />
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
          load(filters, null);
        }}
      >
        {FILTERS.map((f) => (
          <div key={f.key}>
            <label for={`audit-${f.key}`}>{f.label}</label>
            <input id={`audit-${f.key}`} value={filters[f.key]} placeholder={f.placeholder} onInput={(e) => setFilters({ ...filters, [f.key]: e.currentTarget.value })} />
          </div>
        ))}
        <div>
          <label for="audit-from">From</label>
          <input id="audit-from" type="datetime-local" value={filters.from} onInput={(e) => setFilters({ ...filters, from: e.currentTarget.value })} />
        </div>
        <div>
          <label for="audit-to">To</label>
          <input id="audit-to" type="datetime-local" value={filters.to} onInput={(e) => setFilters({ ...filters, to: e.currentTarget.value })} />
        </div>
        <div class="actions">
          <button type="submit">Filter</button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setFilters(EMPTY);
              setApplied(EMPTY);
              load(EMPTY, null);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!rows ? (
        <p>Loading…</p>
      ) : (
        <>
          <table>
            <caption>
              {count(rows.length, 'record')}
              {cursor ? ' so far' : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Actor</th>
                <th scope="col">Client</th>
                <th scope="col">User</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.seq} data-testid="audit-row">
                  <td>{r.seq}</td>
                  <td>{when(r.at)}</td>
                  <th scope="row">{r.event}</th>
                  <td>{r.actor}</td>
                  <td>{r.client_id ?? '—'}</td>
                  <td>{r.user_id ?? '—'}</td>
                  <td>{r.reason ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {cursor && (
            <button type="button" class="secondary" onClick={() => load(applied, cursor)}>
              Load more
            </button>
          )}
        </>
      )}
    </section>
  );
}

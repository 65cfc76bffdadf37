import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Session, type Stats } from '../api.js';
import { BarList, Timeline } from '../charts.js';

/** How often the overview asks for fresh numbers. */
const REFRESH_MS = 5_000;

export function Overview({ session, onSignedOut }: { session: Session; onSignedOut: () => void }) {
  const [stats, setStats] = useState<Stats | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    async function load() {
      try {
        const s = await api<Stats>(session, 'GET', '/stats');
        if (!stopped) {
          setStats(s);
          setError(undefined);
        }
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) onSignedOut();
        else if (!stopped) setError((err as Error).message);
      }
    }
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [session, onSignedOut]);
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!stats ? (
        <p>Loading…</p>
      ) : (
        <>
          <dl class="cards">
            {(['active', 'rotated', 'expired', 'revoked'] as const).map((state) => (
              <div class="card" key={state}>
                <dt>{state[0]?.toUpperCase() + state.slice(1)} tokens</dt>
                <dd data-testid={`tokens-${state}`}>{stats.tokens[state]}</dd>
              </div>
            ))}
          </dl>
          <div class="charts">
            <BarList title="Tokens by state" bars={(['active', 'rotated', 'expired', 'revoked'] as const).map((s) => ({ label: s, value: stats.tokens[s] }))} />
            <BarList title="Active tokens by client" bars={stats.tokens_by_client.map((c) => ({ label: c.client_id, value: c.active }))} />
            <Timeline title="Audit events per minute, last hour" bars={stats.events_per_minute.map((m) => ({ label: new Date(m.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }), value: m.events }))} />
          </div>
          <table class="clients">
            <caption>Tokens by client</caption>
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">Active</th>
                <th scope="col">All</th>
              </tr>
            </thead>
            <tbody>
              {stats.tokens_by_client.map((c) => (
                <tr key={c.client_id} data-testid={`client-${c.client_id}`}>
                  <th scope="row">{c.client_id}</th>
                  <td>{c.active}</td>
                  <td>{c.total}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="help">Refreshed every {REFRESH_MS / 1000} seconds.</p>
        </>
      )}
    </section>
  );
}

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, currentSession, type Session, type Stats, signIn, signOut } from './api.js';
import { BarList, Timeline } from './charts.js';

/** How often the overview asks for fresh numbers. */
const REFRESH_MS = 5_000;

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    currentSession()
      .then((s) => setSession(s ?? null))
      .catch(() => setSession(null));
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;
  return <Console session={session} onSignedOut={() => setSession(null)} />;
}

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(token.trim()));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That admin token is unknown, revoked or expired.' : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="signin">
      <h1>Tessera console</h1>
      <form onSubmit={submit} method="post" action="/console/session">
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck={false} required value={token} onInput={(e) => setToken(e.currentTarget.value)} aria-describedby="token-help" />
        <p id="token-help" class="help">
          Made with <code>tessera admin token create NAME</code>. It is sent once; the console then keeps an HttpOnly session cookie.
        </p>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

function Console({ session, onSignedOut }: { session: Session; onSignedOut: () => void }) {
  async function logout() {
    try {
      await signOut(session);
    } finally {
      onSignedOut();
    }
  }
  return (
    <>
      <header class="top">
        <a href="/console" class="brand">
          Tessera console
        </a>
        <nav aria-label="Pages">
          <a href="/console" aria-current="page">
            Overview
          </a>
        </nav>
        <span class="who">
          Signed in as <strong data-testid="admin-name">{session.name}</strong>
          {session.read_only && <span class="badge">read-only</span>}
        </span>
        <button type="button" onClick={logout} class="secondary">
          Sign out
        </button>
      </header>
      <main>
        <Overview session={session} onSignedOut={onSignedOut} />
      </main>
    </>
  );
}

function Overview({ session, onSignedOut }: { session: Session; onSignedOut: () => void }) {
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

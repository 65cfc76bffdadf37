import { useEffect, useState } from 'preact/hooks';
import { ApiError, currentSession, type Session, signIn, signOut } from './api.js';
import { Audit } from './pages/audit.js';
import { ClientPage } from './pages/client.js';
import { Clients } from './pages/clients.js';
import { SignedOut } from './pages/common.js';
import { Overview } from './pages/overview.js';
import { UserPage } from './pages/user.js';
import { Users } from './pages/users.js';
import { Webhooks } from './pages/webhooks.js';
import { BASE, Link, usePath } from './router.js';

const PAGES = [
  { href: BASE, label: 'Overview' },
  { href: `${BASE}/clients`, label: 'Clients' },
  { href: `${BASE}/users`, label: 'Users' },
  { href: `${BASE}/audit`, label: 'Audit log' },
  { href: `${BASE}/webhooks`, label: 'Webhooks' },
];

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

/** The id a page's path names, decoded; undefined when the path is not that page's or its id is not valid percent-encoding (Not found). */
function pathId(page: RegExp, path: string): string | undefined {
  const segment = page.exec(path)?.[1];
  try {
    return segment === undefined ? undefined : decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function Console({ session, onSignedOut }: { session: Session; onSignedOut: () => void }) {
  const path = usePath().replace(/\/+$/, '') || BASE;
  async function logout() {
    try {
      await signOut(session);
    } finally {
      onSignedOut();
    }
  }
  const userId = pathId(/^\/console\/users\/([^/]+)$/, path);
  const clientId = pathId(/^\/console\/clients\/([^/]+)$/, path);
  const webhookId = pathId(/^\/console\/webhooks\/([^/]+)$/, path);
  const current = PAGES.filter((p) => path === p.href || path.startsWith(`${p.href}/`)).at(-1);
  useEffect(() => {
    document.title = `${current?.label ?? 'Not found'} · Tessera console`;
  }, [current]);
  return (
    <SignedOut.Provider value={onSignedOut}>
      <a href="#main" class="skip">
        Skip to content
      </a>
      <header class="top">
        <Link href={BASE} class="brand">
          Tessera console
        </Link>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <Link key={p.href} href={p.href} {...(p === current ? { 'aria-current': 'page' as const } : {})}>
              {p.label}
            </Link>
          ))}
        </nav>
        <span class="who">
          Signed in as <strong data-testid="admin-name">{session.name}</strong>
          {session.read_only && <span class="badge">read-only</span>}
        </span>
        <button type="button" onClick={logout} class="secondary">
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {path === BASE || path === `${BASE}/overview` ? (
          <Overview session={session} onSignedOut={onSignedOut} />
        ) : path === `${BASE}/clients` ? (
          <Clients session={session} onSignedOut={onSignedOut} />
        ) : path === `${BASE}/users` ? (
          <Users session={session} onSignedOut={onSignedOut} />
        ) : path === `${BASE}/audit` ? (
          <Audit session={session} onSignedOut={onSignedOut} />
        ) : clientId !== undefined ? (
          <ClientPage session={session} onSignedOut={onSignedOut} id={clientId} />
        ) : path === `${BASE}/webhooks` || webhookId !== undefined ? (
          <Webhooks session={session} onSignedOut={onSignedOut} {...(webhookId === undefined ? {} : { id: webhookId })} />
        ) : userId !== undefined ? (
          <UserPage session={session} onSignedOut={onSignedOut} id={userId} />
        ) : (
          <section>
            <h1>Not found</h1>
            <p>
              <Link href={BASE}>Back to the overview</Link>
            </p>
          </section>
        )}
      </main>
    </SignedOut.Provider>
  );
}

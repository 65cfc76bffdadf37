/**
 * One user: each grant with its token families as timelines (issued → rotated → … → revoked,
 * with the reason from the audit log), and revoke buttons for a token, a grant, or all of them.
 */
import { useState } from 'preact/hooks';
import { ApiError, type AuditRecord, api, type Grant, type Page, type Revoked, type Session, type Token, type User } from '../api.js';
import { type Confirmation, ConfirmDialog, count } from '../confirm.js';
import { BASE, Link } from '../router.js';
import { activeCounts, Messages, type PageProps, useLoaded, when } from './common.js';
import { EditUser } from './user-edit.js';

/** Grants a page of the user's shows (each with its tokens): "Load more" asks for the next. */
const GRANT_PAGE = 20;

interface Grants {
  grants: Grant[];
  cursor: string | null;
  tokens: Token[];
  audit: AuditRecord[];
}

interface Data extends Grants {
  user: User;
  active: { tokens: number; grants: number; more: boolean };
}

const REVOKING = new Set(['token.revoked', 'token.reuse_detected']);

/** Why a token was revoked: the audit record of the revocation that covered it, at its revoked_at. */
function reasonFor(t: Token, audit: AuditRecord[]): string | undefined {
  if (t.revoked_at === null) return undefined;
  const at = Date.parse(t.revoked_at);
  const covers = (r: AuditRecord) =>
    r.token_id === t.id || (r.token_id === null && r.grant_id === t.grant_id) || (r.token_id === null && r.grant_id === null && (r.user_id === t.user_id || r.client_id === t.client_id));
  const hit = audit.find((r) => REVOKING.has(r.event) && covers(r) && Math.abs(Date.parse(r.at) - at) < 2_000);
  return hit ? `${hit.reason ?? 'no reason given'} (${hit.actor})` : undefined;
}

/** Seconds around a revocation in which its audit record is looked for (reasonFor). */
const NEAR_S = 2;

/**
 * A page of the user's grants, with each one's tokens (by grant, through the tokens' grant index)
 * and the audit records written around the instants they were revoked (through the audit's time
 * index), for the reasons: nothing is read for the user's other grants.
 */
async function grantsPage(session: Session, id: string, cursor: string | null): Promise<Grants> {
  const page = await api<Page<Grant>>(session, 'GET', `/grants?user_id=${encodeURIComponent(id)}&limit=${GRANT_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  const tokens = (await Promise.all(page.items.map((g) => api<Page<Token>>(session, 'GET', `/tokens?grant_id=${encodeURIComponent(g.id)}&limit=500`)))).flatMap((p) => p.items);
  // Revocation instants (seconds), merged where their windows overlap.
  const seconds = [...new Set(tokens.flatMap((t) => (t.revoked_at ? [Math.floor(Date.parse(t.revoked_at) / 1000)] : [])))].sort((a, b) => a - b);
  const windows: Array<[number, number]> = [];
  for (const s of seconds) {
    const last = windows.at(-1);
    if (last && s - NEAR_S <= last[1]) last[1] = s + NEAR_S + 1;
    else windows.push([s - NEAR_S, s + NEAR_S + 1]);
  }
  const iso = (s: number) => new Date(s * 1000).toISOString();
  const audit = (await Promise.all(windows.map(([from, to]) => api<Page<AuditRecord>>(session, 'GET', `/audit?from=${iso(from)}&to=${iso(to)}&limit=500`)))).flatMap((p) => p.items);
  return { grants: page.items, cursor: page.next_cursor, tokens, audit };
}

async function load(session: Session, id: string): Promise<Data> {
  const [user, grants, active] = await Promise.all([
    api<User>(session, 'GET', `/users/${encodeURIComponent(id)}`),
    grantsPage(session, id, null),
    activeCounts(session, `user_id=${encodeURIComponent(id)}`),
  ]);
  return { user, ...grants, active };
}

export function UserPage({ session, onSignedOut, id }: PageProps & { id: string }) {
  const { data, setData, error, setError, refresh } = useLoaded(onSignedOut, () => load(session, id), [session, id]);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [confirmation, setConfirmation] = useState<Confirmation | undefined>(undefined);
  async function more(shown: Data) {
    try {
      const next = await grantsPage(session, id, shown.cursor);
      setData({ ...shown, grants: [...shown.grants, ...next.grants], cursor: next.cursor, tokens: [...shown.tokens, ...next.tokens], audit: [...shown.audit, ...next.audit] });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onSignedOut();
      else setError((err as Error).message);
    }
  }

  const revoke = (type: 'token' | 'grant' | 'user', value: string, title: string, message: string, action: string) =>
    setConfirmation({
      title, message, action, reason: true,
      run: async (reason) => {
        const r = await api<Revoked>(session, 'POST', '/revocations', { type, value, ...(reason ? { reason } : {}) });
        return `Revoked ${count(r.revoked_tokens, 'token')} and ${count(r.revoked_grants, 'grant')}.`;
      },
    });

  if (!data) {
    return (
      <section>
        <h1>User</h1>
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : (
          <p>Loading…</p>
        )}
      </section>
    );
  }
  const { user, grants, tokens, audit } = data;
  const active = count(data.active.tokens, 'active token', data.active.more);
  const activeGrants = count(data.active.grants, 'active grant', data.active.more);
  return (
    <section aria-labelledby="user-title">
      <p>
        <Link href={`${BASE}/users`}>← Users</Link>
      </p>
      <h1 id="user-title">User {user.username}</h1>
      <p class="help">
        {user.id}
        {user.email ? ` · ${user.email}` : ''} · {activeGrants}, {active}
      </p>
      <Messages error={error} notice={notice} />
      {!session.read_only && (
        <EditUser
          session={session}
          user={user}
          confirm={setConfirmation}
          onSaved={(message) => {
            setNotice(message);
            refresh();
          }}
        />
      )}
      {!session.read_only && (
        <button
          type="button"
          class="danger"
          disabled={data.active.tokens === 0 && data.active.grants === 0}
          onClick={() => revoke('user', user.id, `Revoke everything of ${user.username}?`, `This revokes all ${activeGrants} and ${active} of ${user.username}. They will have to sign in and consent again.`, 'Revoke all')}
        >
          Revoke all of {user.username}'s tokens
        </button>
      )}
      <h2>Grants</h2>
      {grants.length === 0 && <p>No grants.</p>}
      {grants.map((g) => {
        const mine = tokens.filter((t) => t.grant_id === g.id);
        const families = [...new Set(mine.map((t) => t.family_id))];
        const live = mine.filter((t) => t.state === 'active').length;
        return (
          <article key={g.id} class="grant" data-testid={`grant-${g.id}`} aria-labelledby={`grant-${g.id}-title`}>
            <h3 id={`grant-${g.id}-title`}>
              Grant to <code>{g.client_id}</code> <span class={`state state-${g.state}`}>{g.state}</span>
            </h3>
            <p class="help">
              {g.id} · scope “{g.scope}” · created {when(g.created_at)}
              {g.revoked_at ? ` · revoked ${when(g.revoked_at)}` : ''}
            </p>
            {!session.read_only && g.state === 'active' && (
              <button type="button" class="danger" onClick={() => revoke('grant', g.id, 'Revoke this grant?', `This revokes the grant to ${g.client_id} and its ${count(live, 'active token')}.`, 'Revoke grant')}>
                Revoke grant
              </button>
            )}
            {families.map((f) => (
              <ol key={f} class="timeline-list" aria-label={`Token family ${f}`}>
                {mine
                  .filter((t) => t.family_id === f)
                  .map((t) => {
                    const reason = reasonFor(t, audit);
                    return (
                      <li key={t.id} data-testid={`token-${t.id}`}>
                        <span class="kind">{t.kind} token</span> issued {when(t.issued_at)} <span class={`state state-${t.state}`}>{t.state}</span>
                        {t.consumed_at && <> → rotated {when(t.consumed_at)}</>}
                        {t.revoked_at && (
                          <>
                            {' '}
                            → revoked {when(t.revoked_at)}
                            {reason && <span class="reason">: {reason}</span>}
                          </>
                        )}
                        {t.state === 'expired' && <> → expired {when(t.expires_at)}</>}
                        {!session.read_only && t.state === 'active' && (
                          <button
                            type="button"
                            class="danger small"
                            aria-label={`Revoke ${t.kind} token ${t.id}`}
                            onClick={() =>
                              revoke('token', t.id, `Revoke this ${t.kind} token?`, t.kind === 'refresh' ? 'This revokes the refresh token and, with it, its whole grant (RFC 7009 §2.1).' : 'This revokes the access token.', 'Revoke token')
                            }
                          >
                            Revoke
                          </button>
                        )}
                      </li>
                    );
                  })}
              </ol>
            ))}
          </article>
        );
      })}
      {data.cursor && (
        <button type="button" class="secondary" onClick={() => more(data)}>
          Load more grants
        </button>
      )}
      <ConfirmDialog
        confirmation={confirmation}
        onClose={(result) => {
          setConfirmation(undefined);
          if (result) {
            setNotice(result);
            refresh();
          }
        }}
      />
    </section>
  );
}

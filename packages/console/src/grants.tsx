/**
 * A user's or a client's grants, a page at a time, each with its token families as timelines
 * (issued → rotated → … → revoked, with the reason and who revoked it from the audit log), and
 * revoke buttons for a token or a grant behind a confirmation. The page's grants' tokens are read
 * at once, by grant (`GET /tokens` with grant_id repeated: the tokens' grant index), and the
 * reasons from the audit records written around the instants they were revoked (the audit's time
 * index): nothing else of the store is read.
 */
import { useEffect, useState } from 'preact/hooks';
import { type AuditRecord, api, type Grant, type Page, type Session, type Token } from './api.js';
import { useConfirmation } from './confirm.js';
import { count, failureHandler, revocation, when } from './pages/common.js';

/** Grants a page shows (each with its tokens): "Load more" asks for the next. At most the 50 grant_id values one /tokens request takes. */
const GRANT_PAGE = 20;
/** Pages of 500 tokens read for one page of grants, at most: as many tokens as 500 for each grant; then a page of its own for each grant that got none. */
const TOKEN_PAGES = GRANT_PAGE;
/** Seconds around a revocation in which its audit record is looked for (reasonFor). */
const NEAR_S = 2;
const REVOKING = new Set(['token.revoked', 'token.reuse_detected']);

interface Shown {
  grants: Grant[];
  cursor: string | null;
  tokens: Token[];
  audit: AuditRecord[];
}

/** Why a token was revoked: the audit record of the revocation that covered it, at its revoked_at. */
function reasonFor(t: Token, audit: AuditRecord[]): string | undefined {
  if (t.revoked_at === null) return undefined;
  const at = Date.parse(t.revoked_at);
  const covers = (r: AuditRecord) =>
    r.token_id === t.id || (r.token_id === null && r.grant_id === t.grant_id) || (r.token_id === null && r.grant_id === null && (r.user_id === t.user_id || r.client_id === t.client_id));
  const hit = audit.find((r) => REVOKING.has(r.event) && covers(r) && Math.abs(Date.parse(r.at) - at) < NEAR_S * 1000);
  return hit ? `${hit.reason ?? 'no reason given'} (${hit.actor})` : undefined;
}

/** One page of the grants `filter` selects (`user_id=…` or `client_id=…`), with their tokens and the audit records for the reasons. */
async function grantsPage(session: Session, filter: string, cursor: string | null): Promise<Shown> {
  const page = await api<Page<Grant>>(session, 'GET', `/grants?${filter}&limit=${GRANT_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  const tokens: Token[] = [];
  if (page.items.length > 0) {
    const byGrant = page.items.map((g) => `grant_id=${encodeURIComponent(g.id)}`).join('&');
    let next: string | null = null;
    for (let n = 0; n < TOKEN_PAGES; n++) {
      const got: Page<Token> = await api<Page<Token>>(session, 'GET', `/tokens?${byGrant}&limit=500${next ? `&cursor=${encodeURIComponent(next)}` : ''}`);
      tokens.push(...got.items);
      next = got.next_cursor;
      if (next === null) break;
    }
    if (next !== null) {
      // Cut short: the pages went to the grants with the oldest tokens (one client's grant may hold
      // thousands). Each grant that got none has its own first page, so every grant shows tokens.
      const shown = new Set(tokens.map((t) => t.grant_id));
      const starved = page.items.filter((g) => !shown.has(g.id));
      const own = await Promise.all(starved.map((g) => api<Page<Token>>(session, 'GET', `/tokens?grant_id=${encodeURIComponent(g.id)}&limit=500`)));
      for (const got of own) tokens.push(...got.items);
    }
  }
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

export interface GrantsProps {
  session: Session;
  onSignedOut: () => void;
  /** The query that selects the grants: `user_id=…` or `client_id=…`. */
  filter: string;
  /** Whose page it is: a user's grants are named by client, a client's by user. */
  of: 'user' | 'client';
  /** Changes when the page changed something (a revocation of its own): the grants are read again. */
  version: number;
  /** After a revocation from here: its notice (the page reads its own counts again). */
  onChanged: (notice: string) => void;
  onError: (message: string) => void;
}

export function Grants({ session, onSignedOut, filter, of, version, onChanged, onError }: GrantsProps) {
  const [shown, setShown] = useState<Shown | undefined>(undefined);
  const { ask, dialog } = useConfirmation(onChanged);
  const failed = failureHandler(onSignedOut, onError);
  useEffect(() => {
    grantsPage(session, filter, null).then(setShown, failed);
  }, [session, filter, version]);

  async function more(from: Shown) {
    try {
      const next = await grantsPage(session, filter, from.cursor);
      setShown({ grants: [...from.grants, ...next.grants], cursor: next.cursor, tokens: [...from.tokens, ...next.tokens], audit: [...from.audit, ...next.audit] });
    } catch (err) {
      failed(err);
    }
  }

  const revoke = (type: 'token' | 'grant', value: string, title: string, message: string, action: string) => ask(revocation(session, type, value, { title, message, action }));

  if (!shown) return <p>Loading grants…</p>;
  const { grants, tokens, audit } = shown;
  return (
    <>
      {grants.length === 0 && <p>No grants.</p>}
      {grants.map((g) => {
        const mine = tokens.filter((t) => t.grant_id === g.id);
        const families = [...new Set(mine.map((t) => t.family_id))];
        const live = mine.filter((t) => t.state === 'active').length;
        const holder = of === 'user' ? g.client_id : (g.user_id ?? 'the client itself');
        return (
          <article key={g.id} class="grant" data-testid={`grant-${g.id}`} aria-labelledby={`grant-${g.id}-title`}>
            <h3 id={`grant-${g.id}-title`}>
              {of === 'user' ? 'Grant to ' : g.user_id === null ? 'Grant to ' : 'Grant of '}
              <code>{holder}</code> <span class={`state state-${g.state}`}>{g.state}</span>
            </h3>
            <p class="help">
              {g.id} · scope “{g.scope}” · created {when(g.created_at)}
              {g.revoked_at ? ` · revoked ${when(g.revoked_at)}` : ''}
            </p>
            {!session.read_only && g.state === 'active' && (
              <button type="button" class="danger" onClick={() => revoke('grant', g.id, 'Revoke this grant?', `This revokes the grant ${of === 'user' ? `to ${g.client_id}` : `of ${holder}`} and its ${count(live, 'active token')}.`, 'Revoke grant')}>
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
      {shown.cursor && (
        <button type="button" class="secondary" onClick={() => more(shown)}>
          Load more grants
        </button>
      )}
      {dialog}
    </>
  );
}

/**
 * The overview, live: the numbers of GET /stats, then every lifecycle event from GET /events
 * (Server-Sent Events) applied as it comes: a token issued adds to the active count and its
 * client's, a rotation moves one to rotated and adds the pair it issued, every event counts in
 * its minute. Revocations say nothing of how many tokens they took, so they (and expiry, which has
 * no event) are caught up by /stats again: soon after such an event, every REFRESH_MS, and after
 * a reconnection.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type AuditRecord, api, type Session, type Stats } from '../api.js';
import { BarList, Timeline } from '../charts.js';
import { failureHandler, Messages } from './common.js';

/** How often /stats is read again whatever the stream says (expired tokens have no event). */
const REFRESH_MS = 60_000;
/** How long after a revocation /stats is read again (one read for a burst of them). */
const SETTLE_MS = 1_000;
/** Times /stats is asked after an event until its count includes it. */
const SETTLE_TRIES = 5;
/** How long after the server refused the stream (not a dropped connection: the browser retries those) a new one is opened. */
const RECONNECT_MS = 10_000;
/** Minutes the live chart keeps. */
const LIVE_MINUTES = 15;
/** Events listed under "Latest events". */
const RECENT = 8;

/** One event of GET /admin/api/v1/events: an audit record without its hashes. */
type LifecycleEvent = AuditRecord;

/** The lifecycle series of the live chart: event names counted in each. */
const SERIES = [
  { key: 'issued', label: 'Issued', events: ['token.issued', 'token.exchanged'] },
  { key: 'refreshed', label: 'Refreshed', events: ['token.rotated', 'token.rotated_in_grace'] },
  { key: 'revoked', label: 'Revoked', events: ['token.revoked'] },
  { key: 'reuse', label: 'Reuse detected', events: ['token.reuse_detected'] },
] as const;
type SeriesKey = (typeof SERIES)[number]['key'];
type Minute = { minute: number } & Record<SeriesKey, number>;

const minuteOf = (iso: string) => Math.floor(Date.parse(iso) / 60_000) * 60_000;
const clock = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * What an event does to the token counts: a token issued is one more active; a rotation (one
 * record, naming the pair it issued) consumes a refresh token and issues two, or, in the grace
 * period, issues two from one already consumed.
 */
const TOKEN_MOVES = new Map<string, { active: number; rotated: number; issued: number }>([
  ['token.issued', { active: 1, rotated: 0, issued: 1 }],
  ['token.rotated', { active: 1, rotated: 1, issued: 2 }],
  ['token.rotated_in_grace', { active: 2, rotated: 0, issued: 2 }],
]);

/** The stats with one event applied: counts it can tell exactly, and the event in its minute. */
function apply(stats: Stats, e: LifecycleEvent): Stats {
  const minute = new Date(minuteOf(e.at)).toISOString();
  let perMinute = stats.events_per_minute;
  if (perMinute.some((m) => m.minute === minute)) perMinute = perMinute.map((m) => (m.minute === minute ? { ...m, events: m.events + 1 } : m));
  else if (perMinute.length === 0 || minute > (perMinute.at(-1)?.minute ?? '')) perMinute = [...perMinute.slice(1), { minute, events: 1 }];
  const moved = TOKEN_MOVES.get(e.event);
  if (moved === undefined) return { ...stats, events_per_minute: perMinute };
  const { active, rotated, issued } = moved;
  const tokens = { ...stats.tokens, active: Math.max(0, stats.tokens.active + active), rotated: stats.tokens.rotated + rotated };
  let byClient = stats.tokens_by_client;
  if (e.client_id !== null) {
    const known = byClient.some((c) => c.client_id === e.client_id);
    byClient = known
      ? byClient.map((c) => (c.client_id === e.client_id ? { ...c, active: Math.max(0, c.active + active), total: c.total + issued } : c))
      : [...byClient, { client_id: e.client_id, active, total: issued }];
  }
  return { ...stats, tokens, tokens_by_client: byClient, events_per_minute: perMinute };
}

/** The live chart's minutes with one event counted (the last LIVE_MINUTES). */
function count(minutes: Minute[], e: LifecycleEvent): Minute[] {
  const series = SERIES.find((s) => (s.events as readonly string[]).includes(e.event));
  if (!series) return minutes;
  const minute = minuteOf(e.at);
  const found = minutes.find((m) => m.minute === minute);
  const next = found ? minutes : [...minutes, { minute, issued: 0, refreshed: 0, revoked: 0, reuse: 0 }].sort((a, b) => a.minute - b.minute);
  return next.map((m) => (m.minute === minute ? { ...m, [series.key]: m[series.key] + 1 } : m)).slice(-LIVE_MINUTES);
}

export function Overview({ session, onSignedOut }: { session: Session; onSignedOut: () => void }) {
  const [stats, setStats] = useState<Stats | undefined>(undefined);
  const [minutes, setMinutes] = useState<Minute[]>([]);
  const [recent, setRecent] = useState<LifecycleEvent[]>([]);
  const [live, setLive] = useState<'connecting' | 'live' | 'reconnecting'>('connecting');
  const [error, setError] = useState<string | undefined>(undefined);
  const settle = useRef<number | undefined>(undefined);

  useEffect(() => {
    let stopped = false;
    const failed = failureHandler(onSignedOut, (message) => {
      if (!stopped) setError(message);
    });
    async function load(): Promise<Stats | undefined> {
      try {
        const s = await api<Stats>(session, 'GET', '/stats');
        if (!stopped) {
          setStats(s);
          setError(undefined);
        }
        return s;
      } catch (err) {
        failed(err);
        return undefined;
      }
    }
    // /stats may answer with a count taken before the event while it counts anew (counted_at):
    // then it is asked again, a few times at most, until its count includes the event.
    let settleAt = 0;
    async function settled(tries: number) {
      const s = await load();
      if (!stopped && s && Date.parse(s.counted_at) < settleAt && tries > 1) settle.current = window.setTimeout(() => settled(tries - 1), SETTLE_MS);
    }
    load();
    const timer = setInterval(load, REFRESH_MS);
    // Same origin: the session cookie goes with it. The browser reconnects by itself, sending the
    // last event's id (Last-Event-ID), so nothing committed meanwhile is missed.
    let events: EventSource | undefined;
    let retry: number | undefined;
    let dropped = false;
    function onEvent(message: MessageEvent<string>) {
      const e = JSON.parse(message.data) as LifecycleEvent;
      setStats((s) => s && apply(s, e));
      setMinutes((m) => count(m, e));
      setRecent((r) => [e, ...r].slice(0, RECENT));
      // Counts an event cannot tell exactly (how many a revocation took): read them again, once for a burst.
      if (!TOKEN_MOVES.has(e.event) && (e.event.startsWith('token.') || e.event.endsWith('.deleted') || e.event === 'user.password_changed')) {
        clearTimeout(settle.current);
        settleAt = Math.max(settleAt, Date.parse(e.at));
        settle.current = window.setTimeout(() => settled(SETTLE_TRIES), SETTLE_MS);
      }
    }
    function connect() {
      const source = new EventSource('/admin/api/v1/events');
      events = source;
      source.onopen = () => {
        setLive('live');
        // Back after a drop: the counts the stream cannot tell may have moved meanwhile.
        if (dropped) load();
      };
      source.onerror = () => {
        dropped = true;
        setLive('reconnecting');
        if (source.readyState !== EventSource.CLOSED) return;
        // Closed for good (the answer was not a stream): /stats says whether the session ended
        // (back to sign-in); otherwise (too many streams open, say) a new stream a little later.
        load();
        retry = window.setTimeout(() => {
          if (!stopped) connect();
        }, RECONNECT_MS);
      };
      source.addEventListener('lifecycle', onEvent);
    }
    connect();
    return () => {
      stopped = true;
      events?.close();
      clearTimeout(retry);
      clearInterval(timer);
      clearTimeout(settle.current);
    };
  }, [session, onSignedOut]);

  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <Messages error={error} notice={undefined} />
      <p class="help" data-testid="live-state">
        {live === 'live' ? 'Live: updated as tokens are issued, refreshed and revoked.' : live === 'connecting' ? 'Connecting to the live event stream…' : 'Reconnecting to the live event stream…'}
      </p>
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
            <Timeline title="Audit events per minute, last hour" bars={stats.events_per_minute.map((m) => ({ label: clock(Date.parse(m.minute)), value: m.events }))} />
            <BarList title="Tokens issued, refreshed, revoked and reuse detected, since this page opened" bars={SERIES.map((s) => ({ label: s.label, value: minutes.reduce((n, m) => n + m[s.key], 0) }))} />
          </div>
          <table data-testid="live-minutes">
            <caption>Lifecycle events per minute since this page opened (the last {LIVE_MINUTES} minutes)</caption>
            <thead>
              <tr>
                <th scope="col">Minute</th>
                {SERIES.map((s) => (
                  <th scope="col" key={s.key}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {minutes.length === 0 ? (
                <tr>
                  <td colSpan={SERIES.length + 1}>None yet.</td>
                </tr>
              ) : (
                [...minutes].reverse().map((m) => (
                  <tr key={m.minute}>
                    <th scope="row">{clock(m.minute)}</th>
                    {SERIES.map((s) => (
                      <td key={s.key} data-testid={`live-${s.key}`}>
                        {m[s.key]}
                      </td>
                    ))}
                  </tr>
                ))
              )}
            </tbody>
          </table>
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
          <h2>Latest events</h2>
          {recent.length === 0 ? (
            <p>None since this page opened.</p>
          ) : (
            <ul class="timeline-list" data-testid="recent-events">
              {recent.map((e) => (
                <li key={e.seq}>
                  <time dateTime={e.at}>{new Date(e.at).toLocaleTimeString()}</time> <code>{e.event}</code> by {e.actor}
                  {e.client_id !== null && <> · client {e.client_id}</>}
                  {e.user_id !== null && <> · user {e.user_id}</>}
                  {e.reason !== null && <> · {e.reason}</>}
                </li>
              ))}
            </ul>
          )}
          <p class="help">Counts the stream cannot tell (how many tokens a revocation took, tokens that expired) are read again every {REFRESH_MS / 1000} seconds.</p>
        </>
      )}
    </section>
  );
}

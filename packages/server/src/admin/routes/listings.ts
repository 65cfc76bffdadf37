/**
 * /grants, /tokens, /audit (and /audit/verify), /stats: read-only views, paged by the store
 * (types.ts TokenQuery, GrantQuery, AuditQuery: primary-key order, stable while rows are added).
 * Tokens are shown by id and metadata only, never their values or hashes.
 */
import { z } from 'zod';
import { auditJson } from '../../cli/commands/audit.js';
import type { GrantRecord, TokenRecord, TokenState } from '../../store/types.js';
import { decodeCursor, page } from '../cursor.js';
import { route } from '../route.js';
import { id, isoTime, pageOf, paging, time } from '../schemas.js';

/** An instant as ISO 8601; one past what a Date holds (a lifetime set before lifetimes were capped) as the largest one that is. */
const iso = (ms: number | null) => (ms === null ? null : new Date(Math.min(ms, MAX_DATE_MS)).toISOString());
const MAX_DATE_MS = 8.64e15;
/** Grants one /tokens request may name: a page of the console's grants (20) and then some. */
const MAX_GRANT_IDS = 50;

function stateOf(t: TokenRecord, now: number): TokenState {
  if (t.revokedAt !== null) return 'revoked';
  if (t.consumedAt !== null) return 'rotated';
  return t.expiresAt <= now ? 'expired' : 'active';
}

const tokenView = (t: TokenRecord, now: number) => ({
  id: t.id, kind: t.kind, format: t.format, state: stateOf(t, now), client_id: t.clientId, user_id: t.userId, grant_id: t.grantId, family_id: t.familyId,
  parent_id: t.parentId, scope: t.scope, audience: t.audience, dpop_bound: t.dpopJkt !== null, exchanged_from: t.exchangedFrom,
  issued_at: iso(t.issuedAt), expires_at: iso(t.expiresAt), revoked_at: iso(t.revokedAt), consumed_at: iso(t.consumedAt),
});

const token = z.object({
  id: z.string(), kind: z.enum(['access', 'refresh']), format: z.enum(['opaque', 'jwt']), state: z.enum(['active', 'revoked', 'expired', 'rotated']), client_id: z.string(),
  user_id: z.string().nullable(), grant_id: z.string(), family_id: z.string(), parent_id: z.string().nullable(), scope: z.string(), audience: z.string().nullable(),
  dpop_bound: z.boolean(), exchanged_from: z.string().nullable(), issued_at: time, expires_at: time, revoked_at: time.nullable(), consumed_at: time.nullable(),
});

const grantView = (g: GrantRecord) => ({
  id: g.id, client_id: g.clientId, user_id: g.userId, scope: g.scope, resources: g.resources, state: g.revokedAt === null ? 'active' : 'revoked',
  created_at: iso(g.createdAt), revoked_at: iso(g.revokedAt),
});

const grant = z.object({
  id: z.string(), client_id: z.string(), user_id: z.string().nullable(), scope: z.string(), resources: z.array(z.string()), state: z.enum(['active', 'revoked']),
  created_at: time, revoked_at: time.nullable(),
});

/** An audit record as /audit shows it (the event stream's events are these without the hashes). */
export const auditRecord = z.object({
  seq: z.number(), at: time, event: z.string(), actor: z.string(), client_id: z.string().nullable(), user_id: z.string().nullable(), grant_id: z.string().nullable(),
  token_id: z.string().nullable(), reason: z.string().nullable(), endpoint: z.string().nullable(), data: z.record(z.string(), z.unknown()).nullable(),
  prev_hash: z.string(), hash: z.string(),
});

export const listingRoutes = [
  route({
    method: 'GET', path: '/grants', tag: 'grants', status: 200, summary: 'list grants by id (creation order), filtered by user, client, state and creation time',
    query: z.strictObject({ user_id: id.optional(), client_id: id.optional(), state: z.enum(['active', 'revoked']).optional(), from: isoTime.optional(), to: isoTime.optional(), ...paging }),
    response: pageOf(grant),
    async handle({ query, tessera }) {
      const afterId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 'string');
      const rows = await tessera.store.pageGrants({
        userId: query.user_id, clientId: query.client_id, state: query.state, createdFrom: query.from, createdTo: query.to, afterId, limit: query.limit + 1,
      });
      const shown = page(rows, query.limit, (g) => g.id);
      return { items: shown.items.map(grantView), next_cursor: shown.next_cursor };
    },
  }),
  route({
    method: 'GET', path: '/tokens', tag: 'tokens', status: 200,
    summary: `list tokens by id (issue order), filtered by user, client, grants (grant_id, repeated for up to ${MAX_GRANT_IDS} grants), state and issue time: ids and metadata only, never values or hashes`,
    repeatable: ['grant_id'],
    query: z.strictObject({
      user_id: id.optional(), client_id: id.optional(),
      grant_id: z.array(id).max(MAX_GRANT_IDS, `at most ${MAX_GRANT_IDS} grant_id values`).optional()
        .describe(`the tokens of any of these grants: the parameter repeated (grant_id=A&grant_id=B), at most ${MAX_GRANT_IDS} times`),
      state: z.enum(['active', 'revoked', 'expired', 'rotated']).optional(), from: isoTime.optional(), to: isoTime.optional(), ...paging,
    }),
    response: pageOf(token),
    async handle({ query, tessera }) {
      const now = Date.now();
      const afterId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 'string');
      const rows = await tessera.store.pageTokens({
        userId: query.user_id, clientId: query.client_id, grantIds: query.grant_id, state: query.state, at: now, issuedFrom: query.from, issuedTo: query.to, afterId, limit: query.limit + 1,
      });
      const shown = page(rows, query.limit, (t) => t.id);
      return { items: shown.items.map((t) => tokenView(t, now)), next_cursor: shown.next_cursor };
    },
  }),
  route({
    method: 'GET', path: '/audit', tag: 'audit', status: 200, summary: 'the audit log by seq, filtered by event, actor, client, user and time',
    query: z.strictObject({
      event: z.string().max(128).optional(), actor: z.string().max(256).optional(), client_id: id.optional(), user_id: id.optional(), from: isoTime.optional(), to: isoTime.optional(), ...paging,
    }),
    response: pageOf(auditRecord),
    async handle({ query, tessera }) {
      const afterSeq = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 'number');
      const rows = await tessera.store.queryAudit({
        event: query.event, actor: query.actor, clientId: query.client_id, userId: query.user_id, from: query.from, to: query.to, afterSeq, limit: query.limit + 1,
      });
      const shown = page(rows, query.limit, (r) => r.seq);
      return { items: shown.items.map(auditJson), next_cursor: shown.next_cursor };
    },
  }),
  route({
    method: 'GET', path: '/audit/verify', tag: 'audit', status: 200,
    summary: "the audit log's hash chains checked in full, as `tessera audit verify` does: one pass at a time, shared by concurrent callers; a pass that began under 60 s ago is answered again (see verified_at), `?fresh=true` waits for one that begins after the request",
    query: z.strictObject({ fresh: z.enum(['true', 'false']).optional().describe('true: a new full pass (shared with callers asking meanwhile) instead of the last one') }),
    response: z.object({
      ok: z.boolean(), records: z.number().describe('records checked: every one appended before verified_at, or up to the broken one'),
      problem: z.object({ seq: z.number(), chain: z.number(), reason: z.string() }).optional(),
      verified_at: time.describe('when the pass began; records appended since are checked by the next'),
      age_seconds: z.number().describe('seconds since verified_at, by the server clock'), took_ms: z.number().describe('how long the pass took'),
    }),
    async handle({ query, verification }) {
      const { at, tookMs, report } = await verification(query.fresh === 'true');
      return { ...report, verified_at: new Date(at).toISOString(), age_seconds: Math.max(0, Math.floor((Date.now() - at) / 1000)), took_ms: tookMs };
    },
  }),
  route({
    method: 'GET', path: '/stats', tag: 'stats', status: 200, summary: 'token counts by state and by client, as of counted_at (one count serves a second; past that a count up to 30 s old is answered while a new one runs); audit events per minute over the last hour',
    response: z.object({
      counted_at: time.describe('when the tokens were counted'),
      tokens: z.object({ active: z.number(), revoked: z.number(), expired: z.number(), rotated: z.number() }),
      tokens_by_client: z.array(z.object({ client_id: z.string(), active: z.number(), total: z.number() })),
      events_per_minute: z.array(z.object({ minute: time, events: z.number() })).describe('the last 60 minutes, oldest first, the current one last'),
    }),
    async handle({ tessera, census }) {
      const current = Math.floor(Date.now() / 60_000) * 60_000;
      const since = current - 59 * 60_000;
      const [{ at, census: counted }, perMinute] = await Promise.all([census(), tessera.store.auditPerMinute(since)]);
      const byMinute = new Map(perMinute.map((m) => [m.minute, m.events]));
      const { access, refresh } = counted.byKind;
      const states = ['active', 'revoked', 'expired', 'rotated'] as const;
      return {
        counted_at: new Date(at).toISOString(),
        tokens: Object.fromEntries(states.map((state) => [state, access[state] + refresh[state]])),
        tokens_by_client: counted.byClient.map((c) => ({ client_id: c.clientId, active: c.active, total: c.total })),
        events_per_minute: Array.from({ length: 60 }, (_, i) => since + i * 60_000).map((m) => ({ minute: new Date(m).toISOString(), events: byMinute.get(m) ?? 0 })),
      };
    },
  }),
];

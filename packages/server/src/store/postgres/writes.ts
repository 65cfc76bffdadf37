/**
 * Every write of the PostgreSQL store, each one transaction (READ COMMITTED) on a pooled
 * connection. Those on the request path (issueTokens, rotateRefresh, redeemCode) are SQL
 * functions (schema.ts), one round trip each; the others are transactions run from here.
 *
 * What the SQLite store gets from its single writer, these get from locks taken in one order
 * (client, user, grant), so concurrent writers on any number of instances behave as one:
 * - a write that adds tokens to a grant holds the grant's shared advisory lock until commit (see
 *   tessera_lock_key in schema.ts); a revocation takes the exclusive locks of its grants before
 *   touching tokens, so it waits for those writes and its token UPDATE (a new statement, a new
 *   snapshot) sees their tokens: no live token outlives its grant's or its family's revocation;
 * - conditional writes (CheckedCredentials) hold the client's and user's shared locks, so a
 *   password or secret change (exclusive) waits for them and its cascade sees what they wrote;
 * - a new grant holds its client's and user's shared locks (a deletion waits), and the unique
 *   index grants_live makes a second live grant of the pair a 'conflict';
 * - feed appends take one advisory lock, released at commit: seq order is commit order;
 * - audit records extend a chain no other transaction holds (audit/chain.ts).
 */
import { recordBody } from '../../audit/chain.js';
import type {
  AdminTokenRecord, AuditInput, CheckedCredentials, ClaimedDelivery, ClaimResult, ClientChanges, ClientRecord, CodeRecord, DeliveryAttempt, DeviceCodeRecord, DeviceDecision,
  GrantRecord, InitialAccessTokenRecord, KeyRecord, PushedRequestRecord, WebhookRecord,
  RevocationResult, RevocationTarget,
  SessionRecord, TokenRecord, UserProfile, UserRecord,
} from '../types.js';
import { definedOnly, toClient, toDelivery } from '../rows.js';
import type { Sql, Tx } from './connection.js';

export type { Tx };

/** Key of the advisory lock that orders feed appends. */
export const FEED_LOCK = 7_346_202;

/** Thrown inside a transaction to roll it back and answer `outcome`. */
export class Outcome<T extends string> {
  constructor(readonly outcome: T) {}
}

const tokenRow = (t: TokenRecord) => ({
  id: t.id, hash: t.hash, kind: t.kind, format: t.format, grant_id: t.grantId, family_id: t.familyId, parent_id: t.parentId,
  client_id: t.clientId, user_id: t.userId, scope: t.scope, issued_at: t.issuedAt, expires_at: t.expiresAt, revoked_at: t.revokedAt,
  consumed_at: t.consumedAt, auth_time: t.authTime, dpop_jkt: t.dpopJkt, audience: t.audience, act: t.act, exchanged_from: t.exchangedFrom,
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what PostgreSQL text cannot hold.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Text PostgreSQL can store: a NUL or an unpaired surrogate becomes U+FFFD. */
const text = <T extends string | null | undefined>(value: T): T =>
  (typeof value === 'string' ? value.replace(UNSTORABLE, '\uFFFD') : value) as T;

/** A record as it can be stored, so that its hash (taken from the stored fields) still verifies. */
const storableAudit = (r: AuditInput): AuditInput => ({
  ...r, event: text(r.event), actor: text(r.actor), clientId: text(r.clientId), userId: text(r.userId), grantId: text(r.grantId),
  tokenId: text(r.tokenId), reason: text(r.reason), endpoint: text(r.endpoint),
});

/** The audit records as tessera_append_audit (schema.ts) takes them: it assigns seq, chain and hashes. */
const auditRows = (audit: AuditInput[], at: number) =>
  audit.map(storableAudit).map((r) => ({
    at, body: recordBody(at, r), event: r.event, actor: r.actor, client_id: r.clientId ?? null, user_id: r.userId ?? null,
    grant_id: r.grantId ?? null, token_id: r.tokenId ?? null, reason: r.reason ?? null, endpoint: r.endpoint ?? null,
    data: r.data == null ? null : JSON.stringify(r.data),
  }));

/** A jsonb parameter: postgres.js serialises it (with a ::jsonb cast, a string would be encoded twice). */
const json = (value: unknown) => value as never;

/** Chains the records onto a chain no other transaction holds (audit/chain.ts), in this transaction. */
export async function appendAudit(tx: Tx, audit: AuditInput[], at: number): Promise<void> {
  if (audit.length > 0) await tx`SELECT tessera_append_audit(${json(auditRows(audit, at))}::jsonb)`;
}

/** A function's answer; a unique violation of grants_live is a 'conflict', TS001 the message it was raised with. */
async function outcome<T extends string>(query: Promise<readonly Record<string, unknown>[]>): Promise<T> {
  try {
    const [row] = await query;
    return row?.outcome as T;
  } catch (err) {
    const e = err as { code?: string; constraint_name?: string; message?: string };
    if (e.code === '23505' && e.constraint_name === 'grants_live') return 'conflict' as T;
    if (e.code === 'TS001') return e.message as T;
    throw err;
  }
}

const grantRow = (g: GrantRecord) => ({
  id: g.id, client_id: g.clientId, user_id: g.userId, scope: g.scope, resources: g.resources, created_at: g.createdAt, revoked_at: g.revokedAt,
});

/** issueTokens in one round trip (tessera_issue_tokens). */
export function issueTokens(
  sql: Sql | Tx, tokens: TokenRecord[], audit: AuditInput[], grant?: GrantRecord, checked?: CheckedCredentials,
): Promise<'issued' | 'conflict' | 'grant-revoked' | 'credential-changed'> {
  const at = tokens[0]?.issuedAt ?? Date.now();
  return outcome(sql`SELECT tessera_issue_tokens(${json(tokens.map(tokenRow))}::jsonb, ${json(auditRows(audit, at))}::jsonb,
    ${grant ? json(grantRow(grant)) : null}::jsonb, ${checked ? json(checked) : null}::jsonb) AS outcome`);
}

/**
 * An exchange's token (RFC 8693) as issueTokens writes it, and only while its subject token is
 * unrevoked: a revocation of the subject (of its family, RFC 9700 §4.14.2, or of it alone, RFC
 * 7009) that committed after the engine read it refuses the exchange, instead of leaving a live
 * token in a revoked family. Checked after tessera_issue_tokens, which holds the grant's shared
 * lock (taken after the client's, in the one order): a family's revocation holds that grant
 * exclusively, so it either committed before this check's statement, which sees it, or waits for
 * this commit and then revokes the new token too.
 */
export async function issueExchanged(
  tx: Tx, tokens: TokenRecord[], audit: AuditInput[], grant?: GrantRecord, checked?: CheckedCredentials,
): Promise<'issued' | 'conflict' | 'grant-revoked' | 'credential-changed'> {
  const issued = await issueTokens(tx, tokens, audit, grant, checked);
  // Any other answer rolls the transaction back (a raised one has aborted it already).
  if (issued !== 'issued') throw new Outcome(issued);
  const subjects = [...new Set(tokens.flatMap((t) => (t.exchangedFrom === null ? [] : [t.exchangedFrom])))];
  const [row] = await tx`SELECT count(*)::int AS n FROM tokens WHERE id = ANY(${subjects}) AND revoked_at IS NULL`;
  if (row?.n !== subjects.length) throw new Outcome('grant-revoked');
  return 'issued';
}

/** An issuance on an existing grant, as tessera_issue_batch takes it. */
export interface BatchItem {
  tokens: TokenRecord[];
  audit: AuditInput[];
  checked?: CheckedCredentials;
}

/** Several issuances on existing grants in one round trip and one commit (tessera_issue_batch): an outcome each. */
export async function issueBatch(sql: Sql, items: BatchItem[]): Promise<Array<'issued' | 'grant-revoked' | 'credential-changed'>> {
  const rows = items.map(({ tokens, audit, checked }) => {
    const at = tokens[0]?.issuedAt ?? Date.now();
    return { tokens: tokens.map(tokenRow), audit: auditRows(audit, at), at, checked: checked ?? null };
  });
  const [row] = await sql`SELECT tessera_issue_batch(${json(rows)}::jsonb) AS outcomes`;
  return row?.outcomes as Array<'issued' | 'grant-revoked' | 'credential-changed'>;
}

/** A refresh rotation, as tessera_rotate_refresh and tessera_rotate_batch take it. */
export interface RotationItem {
  oldId: string;
  at: number;
  /** null: only an unconsumed token can be claimed. */
  graceSince: number | null;
  tokens: TokenRecord[];
  audit: AuditInput[];
  checked?: CheckedCredentials | undefined;
}

/** rotateRefresh in one round trip (tessera_rotate_refresh). */
export function rotateRefresh(sql: Sql, { oldId, at, graceSince, tokens, audit, checked }: RotationItem): Promise<ClaimResult> {
  return outcome(sql`SELECT tessera_rotate_refresh(${oldId}, ${at}, ${graceSince ?? Number.MAX_SAFE_INTEGER}, ${json(tokens.map(tokenRow))}::jsonb,
    ${json(auditRows(audit, at))}::jsonb, ${checked ? json(checked) : null}::jsonb) AS outcome`);
}

/** Several rotations in one round trip and one commit (tessera_rotate_batch): an outcome each. */
export async function rotateBatch(sql: Sql, items: RotationItem[]): Promise<ClaimResult[]> {
  const rows = items.map(({ oldId, at, graceSince, tokens, audit, checked }) => ({
    old: oldId, at, grace: graceSince ?? Number.MAX_SAFE_INTEGER, tokens: tokens.map(tokenRow), audit: auditRows(audit, at), checked: checked ?? null,
  }));
  const [row] = await sql`SELECT tessera_rotate_batch(${json(rows)}::jsonb) AS outcomes`;
  return row?.outcomes as ClaimResult[];
}

/** redeemCode in one round trip (tessera_redeem_code). */
export function redeemCode(sql: Sql, codeId: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials): Promise<ClaimResult> {
  return outcome(sql`SELECT tessera_redeem_code(${codeId}, ${at}, ${json(tokens.map(tokenRow))}::jsonb, ${json(auditRows(audit, at))}::jsonb,
    ${checked ? json(checked) : null}::jsonb) AS outcome`);
}

/** redeemDeviceCode in one round trip (tessera_redeem_device_code, schema.ts): the same guarantees as redeemCode. */
export function redeemDeviceCode(sql: Sql, id: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials): Promise<ClaimResult> {
  return outcome(sql`SELECT tessera_redeem_device_code(${id}, ${at}, ${json(tokens.map(tokenRow))}::jsonb, ${json(auditRows(audit, at))}::jsonb,
    ${checked ? json(checked) : null}::jsonb) AS outcome`);
}

/** A device code, unless another holds its user code (device_codes_user_code): then nothing is written. */
export async function createDeviceCode(tx: Tx, d: DeviceCodeRecord, audit: AuditInput[]): Promise<'created' | 'conflict'> {
  const rows = await tx`INSERT INTO device_codes (id, hash, user_code_hash, client_id, scope, resources, issued_at, expires_at, interval, last_polled_at, status, user_id,
      grant_id, decided_at)
    VALUES (${d.id}, ${d.hash}, ${d.userCodeHash}, ${d.clientId}, ${d.scope}, ${tx.json(d.resources)}, ${d.issuedAt}, ${d.expiresAt}, ${d.interval}, ${d.lastPolledAt}, ${d.status}, ${d.userId}, ${d.grantId}, ${d.decidedAt})
    ON CONFLICT (user_code_hash) DO NOTHING RETURNING 1`;
  if (rows.length === 0) return 'conflict';
  await appendAudit(tx, audit, d.issuedAt);
  return 'created';
}

/** The poll's compare-and-set: the UPDATE's row lock makes a concurrent poll wait, then find last_polled_at moved. */
export async function recordDevicePoll(sql: Sql, id: string, previousPoll: number | null, at: number, interval: number): Promise<boolean> {
  const rows = await sql`UPDATE device_codes SET last_polled_at = ${at}, interval = ${interval}
    WHERE id = ${id} AND last_polled_at IS NOT DISTINCT FROM ${previousPoll}::bigint RETURNING 1`;
  return rows.length === 1;
}

/**
 * The user's decision, under the session's lock (tessera_unchanged: a password change waits for
 * it, or it finds the session gone); the UPDATE's row lock decides between concurrent deciders.
 * An approval writes its grant after the UPDATE, so only the decider that won stores consent;
 * the grant's shared lock (taken before it is checked live) makes a revocation of it wait, and
 * its client's and user's (tessera_principals_exist, first: the lock order) their deletion.
 */
export async function decideDeviceCode(
  tx: Tx, id: string, decision: DeviceDecision, at: number, audit: AuditInput[], checked?: CheckedCredentials,
): Promise<'decided' | 'not-pending' | 'conflict' | 'grant-revoked' | 'credential-changed'> {
  const grant = 'approve' in decision ? decision.approve.grant : undefined;
  if (grant && !(await principalsExist(tx, grant))) return 'credential-changed';
  if (!(await unchanged(tx, checked))) return 'credential-changed';
  if (grant) {
    await tx`SELECT tessera_share('grant', ${grant.id})`;
    const [other] = await tx`SELECT 1 FROM grants WHERE client_id = ${grant.clientId} AND user_id IS NOT DISTINCT FROM ${grant.userId}::text
      AND revoked_at IS NULL AND id <> ${grant.id}`;
    if (other) return 'conflict';
    const [revoked] = await tx`SELECT 1 FROM grants WHERE id = ${grant.id} AND revoked_at IS NOT NULL`;
    if (revoked) return 'grant-revoked';
  }
  const [status, userId, grantId] = 'approve' in decision
    ? ['approved', decision.approve.userId, decision.approve.grant.id]
    : ['denied', decision.deny.userId, null];
  const rows = await tx`UPDATE device_codes SET status = ${status}, user_id = ${userId}, grant_id = ${grantId}, decided_at = ${at}
    WHERE id = ${id} AND status = 'pending' AND expires_at > ${at} RETURNING 1`;
  if (rows.length === 0) return 'not-pending';
  // A second live grant of the pair committed since the check is a unique violation (grants_live):
  // insertGrant throws it as 'conflict', which rolls the approval back with it.
  if (grant) await insertGrant(tx, grant);
  await appendAudit(tx, audit, at);
  return 'decided';
}

/** The credentials still stored (tessera_unchanged), under their shared locks until commit. */
async function unchanged(tx: Tx, checked: CheckedCredentials | undefined): Promise<boolean> {
  if (!checked) return true;
  const [row] = await tx`SELECT tessera_unchanged(${json(checked)}::jsonb) AS ok`;
  return row?.ok === true;
}

/** The grant's client and user exist, under their shared locks (tessera_principals_exist). */
async function principalsExist(tx: Tx, grant: GrantRecord): Promise<boolean> {
  const [row] = await tx`SELECT tessera_principals_exist(${grant.clientId}, ${grant.userId}::text) AS ok`;
  return row?.ok === true;
}

/** The exclusive lock on a client, user or grant (schema.ts): writes depending on it finish first. */
async function hold(tx: Tx, kind: 'client' | 'user', id: string): Promise<void> {
  await tx`SELECT tessera_hold(${kind}, ${id})`;
}

export async function createClient(tx: Tx, c: ClientRecord, audit: AuditInput, initialToken?: { hash: string; at: number }): Promise<'created' | 'initial-token-refused'> {
  // One-time: the DELETE's row lock lets one of several racing transactions spend the token.
  if (initialToken !== undefined && (await tx`DELETE FROM initial_access_tokens WHERE hash = ${initialToken.hash} AND expires_at > ${initialToken.at}`).count === 0) {
    return 'initial-token-refused';
  }
  await tx`INSERT INTO clients (id, name, secret_hash, previous_secret_hash, previous_secret_expires_at, auth_method, grant_types, redirect_uris,
      post_logout_redirect_uris, scope, resources, exchange_audiences, token_format, id_token_signed_response_alg, access_ttl, refresh_ttl, jwks, jwks_uri, sealed_secret,
      registration_token_hash, dpop_bound_access_tokens, created_at)
    VALUES (${c.id}, ${c.name}, ${c.secretHash}, ${c.previousSecretHash}, ${c.previousSecretExpiresAt}, ${c.authMethod}, ${tx.json(c.grantTypes)},
      ${tx.json(c.redirectUris)}, ${tx.json(c.postLogoutRedirectUris)}, ${c.scope}, ${tx.json(c.resources)}, ${tx.json(c.exchangeAudiences)}, ${c.tokenFormat}, ${c.idTokenSignedResponseAlg}, ${c.accessTtl},
      ${c.refreshTtl}, ${c.jwks}, ${c.jwksUri}, ${c.sealedSecret}, ${c.registrationTokenHash}, ${c.dpopBoundAccessTokens}, ${c.createdAt})`;
  await appendAudit(tx, [audit], c.createdAt);
  return 'created';
}

export async function createAdminToken(tx: Tx, t: AdminTokenRecord, audit: AuditInput[]): Promise<'created' | 'conflict'> {
  const rows = await tx`INSERT INTO admin_tokens (id, name, hash, read_only, created_at, expires_at, revoked_at)
    VALUES (${t.id}, ${t.name}, ${t.hash}, ${t.readOnly}, ${t.createdAt}, ${t.expiresAt}, ${t.revokedAt}) ON CONFLICT DO NOTHING RETURNING 1`;
  if (rows.length === 0) return 'conflict';
  await appendAudit(tx, audit, t.createdAt);
  return 'created';
}

export async function revokeAdminToken(tx: Tx, id: string, at: number, audit: AuditInput[]): Promise<boolean> {
  const rows = await tx`UPDATE admin_tokens SET revoked_at = ${at} WHERE id = ${id} AND revoked_at IS NULL RETURNING 1`;
  if (rows.length === 0) return false;
  await appendAudit(tx, audit, at);
  return true;
}

export async function createInitialAccessToken(tx: Tx, t: InitialAccessTokenRecord, audit: AuditInput[]): Promise<void> {
  await tx`INSERT INTO initial_access_tokens (hash, created_at, expires_at) VALUES (${t.hash}, ${t.createdAt}, ${t.expiresAt})`;
  await appendAudit(tx, audit, t.createdAt);
}

export async function endSession(tx: Tx, hash: string, audit: AuditInput[]): Promise<boolean> {
  const rows = await tx`DELETE FROM sessions WHERE hash = ${hash} RETURNING 1`;
  if (rows.length === 0) return false;
  await appendAudit(tx, audit, Date.now());
  return true;
}

export async function setClientSecret(
  tx: Tx, id: string, secretHash: string, audit: AuditInput[], previousUntil?: number, sealedSecret?: string,
): Promise<boolean> {
  // Exclusive: writes checked with the old secret (tessera_unchanged, shared) finish first.
  await hold(tx, 'client', id);
  const now = Date.now();
  const until = previousUntil !== undefined && previousUntil > now ? previousUntil : null;
  // The right-hand sides read the row as it was: the replaced hash becomes the previous one.
  const rows = await tx`UPDATE clients SET secret_hash = ${secretHash}, sealed_secret = ${sealedSecret ?? null},
      previous_secret_hash = CASE WHEN ${until}::bigint IS NULL THEN NULL ELSE secret_hash END, previous_secret_expires_at = ${until}::bigint
    WHERE id = ${id} AND secret_hash IS NOT NULL RETURNING 1`;
  if (rows.length === 0) return false;
  await appendAudit(tx, audit, now);
  return true;
}

export async function updateClient(tx: Tx, id: string, changes: ClientChanges, audit: AuditInput[]): Promise<ClientRecord | undefined> {
  await hold(tx, 'client', id);
  const [row] = await tx`SELECT * FROM clients WHERE id = ${id}`;
  if (!row) return undefined;
  const c: ClientRecord = { ...toClient(row), ...definedOnly(changes) };
  await tx`UPDATE clients SET name = ${c.name}, grant_types = ${tx.json(c.grantTypes)}, redirect_uris = ${tx.json(c.redirectUris)},
      post_logout_redirect_uris = ${tx.json(c.postLogoutRedirectUris)}, scope = ${c.scope}, resources = ${tx.json(c.resources)}, exchange_audiences = ${tx.json(c.exchangeAudiences)},
      token_format = ${c.tokenFormat}, id_token_signed_response_alg = ${c.idTokenSignedResponseAlg}, access_ttl = ${c.accessTtl}, refresh_ttl = ${c.refreshTtl}, jwks = ${c.jwks}, jwks_uri = ${c.jwksUri},
      dpop_bound_access_tokens = ${c.dpopBoundAccessTokens}
    WHERE id = ${id}`;
  await appendAudit(tx, audit, Date.now());
  return c;
}

export async function deleteClient(tx: Tx, id: string, at: number, audit: AuditInput[]): Promise<RevocationResult | undefined> {
  await hold(tx, 'client', id);
  const rows = await tx`DELETE FROM clients WHERE id = ${id} RETURNING 1`;
  if (rows.length === 0) return undefined;
  return revoke(tx, { client: id }, at, audit);
}

export async function createUser(tx: Tx, u: UserRecord, audit: AuditInput): Promise<void> {
  await tx`INSERT INTO users (id, username, password_hash, name, email, email_verified, created_at)
    VALUES (${u.id}, ${u.username}, ${u.passwordHash}, ${u.name}, ${u.email}, ${u.emailVerified}, ${u.createdAt})`;
  await appendAudit(tx, [audit], u.createdAt);
}

export async function setUserProfile(tx: Tx, id: string, p: UserProfile, audit: AuditInput[]): Promise<boolean> {
  const rows = await tx`UPDATE users SET name = ${p.name}, email = ${p.email}, email_verified = ${p.emailVerified} WHERE id = ${id} RETURNING 1`;
  if (rows.length === 0) return false;
  await appendAudit(tx, audit, Date.now());
  return true;
}

export async function deleteUser(tx: Tx, id: string, at: number, audit: AuditInput[]): Promise<RevocationResult | undefined> {
  await hold(tx, 'user', id);
  const rows = await tx`DELETE FROM users WHERE id = ${id} RETURNING 1`;
  if (rows.length === 0) return undefined;
  await tx`DELETE FROM sessions WHERE user_id = ${id}`;
  return revoke(tx, { user: id }, at, audit);
}

export async function setPassword(tx: Tx, id: string, passwordHash: string, at: number, audit: AuditInput[]): Promise<RevocationResult | undefined> {
  await hold(tx, 'user', id);
  const rows = await tx`UPDATE users SET password_hash = ${passwordHash} WHERE id = ${id} RETURNING 1`;
  if (rows.length === 0) return undefined;
  await tx`DELETE FROM sessions WHERE user_id = ${id}`;
  return revoke(tx, { user: id }, at, audit);
}

export async function saveGrant(tx: Tx, grant: GrantRecord, audit: AuditInput[], checked?: CheckedCredentials): Promise<'saved' | 'conflict' | 'credential-changed'> {
  // Client and user first: the lock order (schema.ts) puts them before a session's row.
  if (!(await principalsExist(tx, grant))) return 'credential-changed';
  if (!(await unchanged(tx, checked))) return 'credential-changed';
  await insertGrant(tx, grant);
  await appendAudit(tx, audit, grant.createdAt);
  return 'saved';
}

/** Inserts the grant or widens its scope; a second live grant of its pair throws Outcome('conflict'). */
async function insertGrant(tx: Tx, grant: GrantRecord): Promise<void> {
  try {
    await tx`INSERT INTO grants (id, client_id, user_id, scope, resources, created_at, revoked_at)
      VALUES (${grant.id}, ${grant.clientId}, ${grant.userId}, ${grant.scope}, ${tx.json(grant.resources)}, ${grant.createdAt}, ${grant.revokedAt})
      ON CONFLICT (id) DO UPDATE SET scope = EXCLUDED.scope, resources = EXCLUDED.resources`;
  } catch (err) {
    // A second live grant of the pair (grants_live); the transaction is aborted and rolled back.
    if ((err as { constraint_name?: string }).constraint_name === 'grants_live') throw new Outcome('conflict');
    throw err;
  }
}

export async function createCode(tx: Tx, c: CodeRecord, audit: AuditInput[], checked?: CheckedCredentials): Promise<'created' | 'credential-changed'> {
  if (!(await unchanged(tx, checked))) return 'credential-changed';
  await tx`INSERT INTO codes (id, hash, grant_id, client_id, user_id, scope, resources, redirect_uri, code_challenge, code_challenge_method, nonce, auth_time, issued_at,
      expires_at, redeemed_at, dpop_jkt)
    VALUES (${c.id}, ${c.hash}, ${c.grantId}, ${c.clientId}, ${c.userId}, ${c.scope}, ${tx.json(c.resources)}, ${c.redirectUri}, ${c.codeChallenge}, ${c.codeChallengeMethod}, ${c.nonce}, ${c.authTime},
      ${c.issuedAt}, ${c.expiresAt}, ${c.redeemedAt}, ${c.dpopJkt})`;
  await appendAudit(tx, audit, c.issuedAt);
  return 'created';
}

export async function createPushedRequest(
  tx: Tx, r: PushedRequestRecord, audit: AuditInput[], checked?: CheckedCredentials,
): Promise<'created' | 'credential-changed'> {
  if (!(await unchanged(tx, checked))) return 'credential-changed';
  await tx`INSERT INTO pushed_requests (hash, client_id, params, created_at, expires_at)
    VALUES (${r.hash}, ${r.clientId}, ${r.params}, ${r.createdAt}, ${r.expiresAt})`;
  await appendAudit(tx, audit, r.createdAt);
  return 'created';
}

/**
 * The grants a target covers, with their exclusive locks (and, for a user or a client, its own,
 * so that no new grant of theirs is being written): writes adding tokens to them finish first.
 */
async function lockGrants(tx: Tx, target: ManyTarget): Promise<string[] | null> {
  let ids: string[];
  if ('grant' in target) {
    ids = [target.grant];
  } else if ('user' in target) {
    await hold(tx, 'user', target.user);
    ids = (await tx`SELECT id FROM grants WHERE user_id = ${target.user} AND revoked_at IS NULL`).map((r) => r.id as string);
  } else if ('client' in target) {
    await hold(tx, 'client', target.client);
    ids = (await tx`SELECT id FROM grants WHERE client_id = ${target.client} AND revoked_at IS NULL`).map((r) => r.id as string);
  } else {
    return null;
  }
  if (ids.length > 0) await tx`SELECT tessera_hold_grants(${ids})`;
  return ids;
}

const feedValue = (target: ManyTarget): { kind: string; value: string } => {
  if ('grant' in target) return { kind: 'grant', value: target.grant };
  if ('user' in target) return { kind: 'user', value: target.user };
  if ('client' in target) return { kind: 'client', value: target.client };
  return { kind: 'issuedBefore', value: String(target.issuedBefore) };
};

/** The targets of revoke below; a token or a family is revokeOne's. */
type ManyTarget = Exclude<RevocationTarget, { token: string } | { family: string; grant: string }>;

/**
 * A token's or a family's revocation in one round trip (tessera_revoke_one, schema.ts): the
 * tokens, the family's code, the feed event, the audit records; the feed lock is held inside the
 * database only, to the commit.
 */
export async function revokeOne(
  sql: Sql, target: { token: string } | { family: string; grant: string }, at: number, audit: AuditInput[],
): Promise<RevocationResult> {
  const [kind, value, grant] = 'token' in target ? ['token', target.token, null] : ['family', target.family, target.grant];
  const [row] = await sql`SELECT tessera_revoke_one(${kind}, ${value}, ${grant}::text, ${at}, ${json(auditRows(audit, at))}::jsonb) AS r`;
  const r = row?.r as { tokens: number; until: number | null };
  return { tokens: r.tokens, grants: 0, until: r.until };
}

export async function revoke(tx: Tx, target: ManyTarget, at: number, audit: AuditInput[]): Promise<RevocationResult> {
  const grantIds = await lockGrants(tx, target);
  type Revoked = {
    n: number; until: number | null; access_until: number | null;
    exchanged_out?: Array<{ grant: string; until: number }>; late?: Array<{ id: string; until: number }>;
  };
  const summary = (rows: readonly unknown[]) => (rows[0] as Revoked | undefined) ?? { n: 0, until: null, access_until: null };
  // Each a new statement after the locks: it sees the tokens of every write that held them.
  let revoked: Revoked;
  let grants = 0;
  if ('issuedBefore' in target) {
    revoked = summary(await tx`WITH t AS (UPDATE tokens SET revoked_at = ${at} WHERE issued_at < ${target.issuedBefore} AND revoked_at IS NULL RETURNING kind, expires_at)
      SELECT count(*)::int AS n, max(expires_at) AS until, max(expires_at) FILTER (WHERE kind = 'access') AS access_until FROM t`);
    await tx`DELETE FROM codes WHERE issued_at < ${target.issuedBefore} AND redeemed_at IS NULL`;
  } else {
    // A grant's tokens whatever became of the grant row; a user's or client's through their live
    // grants, and a client's exchanged for it on other grants (RFC 8693; tokens_exchanged_client).
    // The client's lock, held, keeps exchanges for it (conditional on its secret) out until commit.
    const ids = 'grant' in target ? [target.grant] : (grantIds ?? []);
    const exchangedFor = 'client' in target ? target.client : null;
    // Late tokens (Store.revoke): a user or client event covers those issued before `at` only.
    const lateSince = 'grant' in target ? null : at;
    // exchanged_out: for a client target, its grants whose access tokens were exchanged for other
    // clients, each with a feed event of its own (see the SQLite store's EXCHANGED_OUT).
    revoked = summary(await tx`WITH t AS (UPDATE tokens SET revoked_at = ${at}
        WHERE (grant_id = ANY(${ids}) OR (exchanged_from IS NOT NULL AND client_id = ${exchangedFor}::text)) AND revoked_at IS NULL
        RETURNING id, kind, expires_at, issued_at, grant_id, client_id)
      SELECT count(*)::int AS n, max(expires_at) AS until, max(expires_at) FILTER (WHERE kind = 'access') AS access_until,
        (SELECT coalesce(json_agg(json_build_object('id', id, 'until', expires_at)), '[]') FROM t
          WHERE kind = 'access' AND issued_at >= ${lateSince}::bigint) AS late,
        (SELECT coalesce(json_agg(json_build_object('grant', grant_id, 'until', u)), '[]') FROM (SELECT grant_id, max(expires_at) AS u FROM t
          WHERE kind = 'access' AND grant_id = ANY(${ids}) AND client_id <> ${exchangedFor}::text GROUP BY grant_id) x) AS exchanged_out FROM t`);
    grants = (await tx`UPDATE grants SET revoked_at = ${at} WHERE id = ANY(${ids}) AND revoked_at IS NULL RETURNING 1`).length;
    if ('grant' in target) await tx`DELETE FROM codes WHERE grant_id = ${target.grant} AND redeemed_at IS NULL`;
    else if ('user' in target) await tx`DELETE FROM codes WHERE user_id = ${target.user} AND redeemed_at IS NULL`;
    else await tx`DELETE FROM codes WHERE client_id = ${target.client} AND redeemed_at IS NULL`;
  }
  // Resource servers only ever see access tokens: the feed tells them when one was revoked.
  if (revoked.access_until === null) {
    await appendAudit(tx, audit, at);
  } else {
    const { kind, value } = feedValue(target);
    const exchangedOut = revoked.exchanged_out ?? [];
    const late = revoked.late ?? [];
    // Last, and sent together (pipelined): the feed lock is held for one round trip and the
    // commit, never while waiting for anything else, and seq order is commit order.
    await Promise.all([
      tx`WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock(${FEED_LOCK}))
        INSERT INTO revocation_feed (seq, at, kind, value, until) SELECT nextval('revocation_feed_seq'), ${at}, ${kind}, ${value}, ${revoked.access_until} FROM l`,
      // A client target's grants with tokens exchanged for other clients, after it, under the lock it took.
      ...(exchangedOut.length === 0 ? [] : [tx`INSERT INTO revocation_feed (seq, at, kind, value, until)
        SELECT nextval('revocation_feed_seq'), ${at}, 'grant', e."grant", e.until FROM jsonb_to_recordset(${json(exchangedOut)}::jsonb) AS e("grant" text, until bigint)`]),
      // The late tokens a user or client event does not cover, each by its own.
      ...(late.length === 0 ? [] : [tx`INSERT INTO revocation_feed (seq, at, kind, value, until)
        SELECT nextval('revocation_feed_seq'), ${at}, 'token', e.id, e.until FROM jsonb_to_recordset(${json(late)}::jsonb) AS e(id text, until bigint)`]),
      appendAudit(tx, audit, at),
      tx`SELECT pg_notify('tessera_feed', '')`,
    ]);
  }
  return { tokens: revoked.n, grants, until: revoked.until };
}

/** See Store.sweepExpired: at most `limit` rows. */
export async function sweepExpired(tx: Tx, before: number, limit: number): Promise<number> {
  let n = 0;
  const del = async (table: 'tokens' | 'codes' | 'pushed_requests' | 'device_codes' | 'sessions', key: 'id' | 'hash') =>
    (await tx`DELETE FROM ${tx(table)} WHERE ${tx(key)} IN (SELECT ${tx(key)} FROM ${tx(table)} WHERE expires_at < ${before} LIMIT ${limit - n})`).count;
  n += await del('tokens', 'id');
  if (n < limit) n += await del('codes', 'id');
  if (n < limit) n += await del('pushed_requests', 'hash');
  if (n < limit) n += await del('device_codes', 'id');
  if (n < limit) n += await del('sessions', 'hash');
  if (n < limit) {
    n += (await tx`DELETE FROM client_assertions WHERE (client_id, jti) IN
      (SELECT client_id, jti FROM client_assertions WHERE expires_at < ${before} LIMIT ${limit - n})`).count;
  }
  if (n < limit) {
    n += (await tx`DELETE FROM dpop_proofs WHERE (jkt, jti) IN
      (SELECT jkt, jti FROM dpop_proofs WHERE expires_at < ${before} LIMIT ${limit - n})`).count;
  }
  if (n < limit) {
    n += (await tx`DELETE FROM initial_access_tokens WHERE hash IN
      (SELECT hash FROM initial_access_tokens WHERE expires_at < ${before} LIMIT ${limit - n})`).count;
  }
  if (n < limit) n += (await tx`DELETE FROM revocation_feed WHERE seq IN (SELECT seq FROM revocation_feed WHERE until < ${before} LIMIT ${limit - n})`).count;
  if (n < limit) {
    n += (await tx`DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE finished_at < ${before} LIMIT ${limit - n})`).count;
  }
  if (n < limit) {
    // Grants revoked before `before`, their tokens first (all revoked with the grant), the grant once none is left.
    for (const { id } of await tx`SELECT id FROM grants WHERE revoked_at < ${before} ORDER BY revoked_at LIMIT ${limit - n}`) {
      n += (await tx`DELETE FROM tokens WHERE id IN (SELECT id FROM tokens WHERE grant_id = ${id} LIMIT ${limit - n})`).count;
      if (n >= limit) break;
      n += (await tx`DELETE FROM grants WHERE id = ${id}`).count;
      if (n >= limit) break;
    }
  }
  return n;
}

export async function createSession(tx: Tx, s: SessionRecord, checked?: CheckedCredentials): Promise<'created' | 'credential-changed'> {
  if (!(await unchanged(tx, checked))) return 'credential-changed';
  await tx`INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (${s.hash}, ${s.userId}, ${s.createdAt}, ${s.expiresAt})`;
  return 'created';
}

/** See Store.serverSecret: the first value stored under `name` stays; its creation is audited, never its value. */
export async function serverSecret(tx: Tx, name: string, candidate: string): Promise<string> {
  const at = Date.now();
  const inserted = await tx`INSERT INTO server_secrets (name, value, created_at) VALUES (${name}, ${candidate}, ${at}) ON CONFLICT DO NOTHING RETURNING 1`;
  if (inserted.length === 1) await appendAudit(tx, [{ event: 'secret.created', actor: 'system', data: { name } }], at);
  const [row] = await tx`SELECT value FROM server_secrets WHERE name = ${name}`;
  return row?.value as string;
}

export async function addKey(tx: Tx, k: KeyRecord, retireAt: number | null, audit: AuditInput[]): Promise<boolean> {
  // One current key per algorithm: a new RS256 key leaves the ES256 key current, and the reverse.
  if (retireAt !== null) await tx`UPDATE keys SET retire_at = ${retireAt} WHERE retire_at IS NULL AND alg = ${k.alg}`;
  else {
    // The first key of its alg: instances starting together wait here, and the later ones see it.
    await tx`SELECT tessera_hold('keys', ${k.alg})`;
    if ((await tx`SELECT 1 FROM keys WHERE alg = ${k.alg} LIMIT 1`).length > 0) return false;
  }
  await tx`INSERT INTO keys (kid, alg, private_jwk, public_jwk, created_at, retire_at)
    VALUES (${k.kid}, ${k.alg}, ${k.privateJwk}, ${k.publicJwk}, ${k.createdAt}, ${k.retireAt})`;
  await appendAudit(tx, audit, k.createdAt);
  return true;
}

export async function createWebhook(tx: Tx, h: WebhookRecord, audit: AuditInput[]): Promise<void> {
  await tx`INSERT INTO webhooks (id, url, events, sealed_secret, created_at) VALUES (${h.id}, ${h.url}, ${tx.json(h.events)}, ${h.sealedSecret}, ${h.createdAt})`;
  await appendAudit(tx, audit, h.createdAt);
}

/** Its deliveries go with it (ON DELETE CASCADE). */
export async function deleteWebhook(tx: Tx, id: string, audit: AuditInput[]): Promise<boolean> {
  if ((await tx`DELETE FROM webhooks WHERE id = ${id}`).count === 0) return false;
  await appendAudit(tx, audit, Date.now());
  return true;
}

/**
 * Claims due deliveries for one attempt: the rows are locked (SKIP LOCKED: a concurrent claim
 * takes others, never waits for these) and moved to `leaseUntil` in one statement, so once it
 * commits they are not due for anyone else until the lease lapses.
 */
export async function claimDeliveries(sql: Sql, at: number, limit: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
  const rows = await sql`WITH due AS (
      SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ${at} ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE webhook_deliveries d SET next_attempt_at = ${leaseUntil} FROM due WHERE d.id = due.id RETURNING d.*
    )
    SELECT claimed.*, w.url, w.sealed_secret AS webhook_secret FROM claimed JOIN webhooks w ON w.id = claimed.webhook_id`;
  return rows.map((r) => ({ delivery: toDelivery(r), url: r.url as string, sealedSecret: r.webhook_secret as string }));
}

export async function recordDelivery(tx: Tx, id: string, a: DeliveryAttempt, audit: AuditInput[]): Promise<void> {
  const status = a.outcome === 'retry' ? 'pending' : a.outcome;
  const next = a.outcome === 'retry' ? a.nextAttemptAt : a.at;
  const finished = a.outcome === 'retry' ? null : a.at;
  const changed = await tx`UPDATE webhook_deliveries SET status = ${status}, attempts = attempts + 1, next_attempt_at = ${next}, last_status = ${a.httpStatus},
      last_error = ${a.error}, finished_at = ${finished} WHERE id = ${id} AND status = 'pending'`;
  if (changed.count > 0) await appendAudit(tx, audit, a.at);
}

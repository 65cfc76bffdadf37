/**
 * The audit log is a set of hash chains: each record's hash covers its content and the previous
 * hash in its chain, so editing or deleting any record breaks every later link. Each chain's head
 * (records, last seq and hash) is kept apart, so deleting records at the tail is caught too.
 *
 * SQLite keeps one chain (its single writer orders every append). A store with concurrent writers
 * (PostgreSQL) keeps several, and each transaction extends one that no other holds, so appends do
 * not wait on one row. Within a chain, seq increases with the chain; across chains, seq orders the
 * records roughly by time. A pure module: the stores and `tessera audit verify` import it.
 */
import { hash } from 'node:crypto';
import type { AuditHead, AuditInput, AuditRecord } from '../store/types.js';

export const GENESIS = 'genesis';

export function chainRecord(prevHash: string, seq: number, at: number, input: AuditInput, chain = 0): AuditRecord {
  const record = {
    seq,
    chain,
    at,
    event: input.event,
    actor: input.actor,
    clientId: input.clientId ?? null,
    userId: input.userId ?? null,
    grantId: input.grantId ?? null,
    tokenId: input.tokenId ?? null,
    reason: input.reason ?? null,
    endpoint: input.endpoint ?? null,
    data: input.data ?? null,
    prevHash,
  };
  return { ...record, hash: hashRecord(record) };
}

/**
 * The record's hash: SHA-256 (base64url) of the JSON array [seq, at, event, actor, clientId, userId,
 * grantId, tokenId, reason, endpoint, data, prevHash]. The chain number is not covered: moving a
 * record to another chain breaks both chains' links.
 */
export function hashRecord(r: Omit<AuditRecord, 'hash' | 'chain'>): string {
  return hash('sha256', `[${r.seq},${recordBody(r.at, r)},${JSON.stringify(r.prevHash)}]`, 'base64url');
}

/**
 * The middle of the hashed array, between seq and prevHash: a store that assigns seq and links
 * records inside the database (PostgreSQL's tessera_append_audit) completes it there.
 */
export function recordBody(at: number, r: AuditInput): string {
  const body = JSON.stringify([
    at, r.event, r.actor, r.clientId ?? null, r.userId ?? null, r.grantId ?? null, r.tokenId ?? null, r.reason ?? null, r.endpoint ?? null, r.data ?? null,
  ]);
  return body.slice(1, -1);
}

/** How many records the chains hold in all. */
export const auditRecords = (heads: readonly AuditHead[]): number => heads.reduce((n, h) => n + h.records, 0);

export interface ChainReport {
  ok: boolean;
  records: number;
  /** The first broken record, and why. */
  problem?: { seq: number; chain: number; reason: string };
}

/**
 * Verifies records read in seq order against the chains' heads, read before them: a record past its
 * chain's head was appended after the heads were read, and is left for the next check.
 */
export async function verifyChain(
  records: AsyncIterable<AuditRecord> | Iterable<AuditRecord>,
  heads: readonly AuditHead[],
): Promise<ChainReport> {
  const byChain = new Map(heads.map((h) => [h.chain, { head: h, prev: GENESIS, seq: 0, count: 0 }]));
  let count = 0;
  for await (const r of records) {
    const chain = byChain.get(r.chain);
    if (chain === undefined) return { ok: false, records: count, problem: { seq: r.seq, chain: r.chain, reason: 'record of an unknown chain' } };
    if (r.seq > chain.head.seq) continue;
    if (r.seq <= chain.seq) return { ok: false, records: count, problem: { seq: r.seq, chain: r.chain, reason: 'record out of order' } };
    if (r.prevHash !== chain.prev) return { ok: false, records: count, problem: { seq: r.seq, chain: r.chain, reason: 'link to previous record broken' } };
    if (hashRecord(r) !== r.hash) return { ok: false, records: count, problem: { seq: r.seq, chain: r.chain, reason: 'record content altered' } };
    chain.prev = r.hash;
    chain.seq = r.seq;
    chain.count++;
    count++;
  }
  for (const { head, prev, seq, count: n } of byChain.values()) {
    if (head.records !== n || head.hash !== prev) {
      return { ok: false, records: count, problem: { seq: seq + 1, chain: head.chain, reason: 'records missing at the end of the log' } };
    }
  }
  return { ok: true, records: count };
}

/**
 * The audit log is a hash chain: each record's hash covers its content and the previous hash,
 * so editing or deleting any record breaks every later link. The head (last seq and hash) is
 * kept apart, so deleting records at the tail is caught too.
 */
import { hash } from 'node:crypto';
import type { AuditInput, AuditRecord } from '../store/types.js';

export const GENESIS = 'genesis';

export function chainRecord(prevHash: string, seq: number, at: number, input: AuditInput): AuditRecord {
  const record = {
    seq,
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

export function hashRecord(r: Omit<AuditRecord, 'hash'>): string {
  const content = JSON.stringify([
    r.seq, r.at, r.event, r.actor, r.clientId, r.userId, r.grantId, r.tokenId, r.reason, r.endpoint, r.data, r.prevHash,
  ]);
  return hash('sha256', content, 'base64url');
}

export interface ChainReport {
  ok: boolean;
  records: number;
  /** The first broken record, and why. */
  problem?: { seq: number; reason: string };
}

/** Verifies a chain read oldest-first, then its head. */
export async function verifyChain(
  records: AsyncIterable<AuditRecord> | Iterable<AuditRecord>,
  head: { seq: number; hash: string },
): Promise<ChainReport> {
  let prev = GENESIS;
  let expectedSeq = 1;
  let count = 0;
  for await (const r of records) {
    if (r.seq !== expectedSeq) return { ok: false, records: count, problem: { seq: expectedSeq, reason: 'record missing' } };
    if (r.prevHash !== prev) return { ok: false, records: count, problem: { seq: r.seq, reason: 'link to previous record broken' } };
    if (hashRecord(r) !== r.hash) return { ok: false, records: count, problem: { seq: r.seq, reason: 'record content altered' } };
    prev = r.hash;
    expectedSeq++;
    count++;
  }
  if (head.seq !== count || head.hash !== (count === 0 ? GENESIS : prev)) {
    return { ok: false, records: count, problem: { seq: count + 1, reason: 'records missing at the end of the log' } };
  }
  return { ok: true, records: count };
}

/** `tessera audit [verify]`: read the hash-chained audit log, or check the chain. */
import { auditRecordsOf as records, verifyStore } from '../../audit/verify-store.js';
import type { AuditRecord } from '../../store/types.js';
import { count, EXIT, isoTime, parse, UsageError, type Command } from '../args.js';
import { iso, note, plural, print, printJson, withTessera } from '../io.js';

const read: Command = {
  name: 'audit',
  synopsis: '[--since ISO] [--limit N] [--after SEQ] [--json]',
  summary: 'print the audit log, oldest first',
  help: `  --since ISO         only records from this ISO 8601 time on, e.g. 2026-01-31T12:00:00Z
  --limit N           at most N records (default all); when there are more, the command says so on
                      stderr with the --after to pass for the next page
  --after SEQ         only records after this seq (the cursor: each record's seq)`,
  async run(argv) {
    const { values, db } = parse(argv, { since: { type: 'string' }, limit: { type: 'string' }, after: { type: 'string' } });
    const since = values.since === undefined ? 0 : isoTime('--since', values.since);
    const limit = values.limit === undefined ? Number.POSITIVE_INFINITY : count('--limit', values.limit, Number.MAX_SAFE_INTEGER);
    const from = values.after === undefined ? 0 : cursor(values.after);
    return withTessera(db, 'existing', async ({ store }) => {
      // Streamed as one JSON array, so a long log never sits in memory.
      let n = 0;
      let last = from;
      if (values.json) process.stdout.write('[');
      for await (const r of records(store, since, Number.POSITIVE_INFINITY, from)) {
        if (n === limit) {
          note(`showing ${plural(n, 'record')}; there are more: add --after ${last}`);
          break;
        }
        last = r.seq;
        if (values.json) process.stdout.write(`${n === 0 ? '\n' : ',\n'}  ${JSON.stringify(auditJson(r))}`);
        else print(auditLine(r));
        n++;
      }
      if (values.json) process.stdout.write(n === 0 ? ']\n' : '\n]\n');
      else if (n === 0) note('no audit records');
      return EXIT.ok;
    });
  },
};

const verify: Command = {
  name: 'audit verify',
  synopsis: '[--json]',
  summary: "check the audit log's hash chains (one on SQLite, 32 on PostgreSQL): exit 0 if intact, 1 with the first broken record",
  async run(argv) {
    const { values, db } = parse(argv, {});
    return withTessera(db, 'existing', async ({ store }) => {
      const report = await verifyStore(store);
      if (values.json) {
        printJson(report);
      } else if (report.ok) {
        print(`OK: ${report.records} audit records, every hash chain intact.`);
      } else {
        const p = report.problem;
        note(`audit log check FAILED at record ${p?.seq} (chain ${p?.chain}): ${p?.reason} (${report.records} records before it are intact)`);
      }
      return report.ok ? EXIT.ok : EXIT.failed;
    });
  },
};

function cursor(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new UsageError(`--after takes the seq of an audit record; got '${value}'`);
  return Number(value);
}

export const auditCommands: readonly Command[] = [read, verify];

export function auditJson(r: AuditRecord) {
  return {
    seq: r.seq,
    at: iso(r.at),
    event: r.event,
    actor: r.actor,
    client_id: r.clientId,
    user_id: r.userId,
    grant_id: r.grantId,
    token_id: r.tokenId,
    reason: r.reason,
    endpoint: r.endpoint,
    data: r.data,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}

function auditLine(r: AuditRecord): string {
  const parts = [String(r.seq).padStart(6), iso(r.at), r.event.padEnd(22), r.actor];
  const refs: Array<[string, string | null]> = [
    ['client', r.clientId], ['user', r.userId], ['grant', r.grantId], ['token', r.tokenId], ['endpoint', r.endpoint],
  ];
  for (const [k, v] of refs) if (v !== null) parts.push(`${k}=${v}`);
  if (r.reason !== null) parts.push(`reason=${JSON.stringify(r.reason)}`);
  if (r.data !== null) parts.push(`data=${JSON.stringify(r.data)}`);
  return parts.join('  ');
}

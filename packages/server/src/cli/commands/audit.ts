/** `tessera audit [verify]`: read the hash-chained audit log, or check the chain. */
import { verifyChain } from '../../lifecycle/audit-chain.js';
import type { AuditRecord, Store } from '../../store/types.js';
import { EXIT, isoTime, parse, type Command } from '../args.js';
import { iso, note, print, printJson, withTessera } from '../io.js';

/** Records read per query: the log is streamed, never loaded whole. */
const PAGE = 500;

/** The log, oldest first, from `since` (ms), up to seq `last` when given. */
async function* records(store: Store, since = 0, last = Number.POSITIVE_INFINITY): AsyncGenerator<AuditRecord> {
  let after = 0;
  for (;;) {
    const page = await store.readAudit(after, PAGE, since);
    for (const record of page) {
      if (record.seq > last) return;
      yield record;
    }
    const end = page.at(-1);
    if (!end || page.length < PAGE) return;
    after = end.seq;
  }
}

const read: Command = {
  name: 'audit',
  synopsis: '[--since ISO] [--json]',
  summary: 'print the audit log, oldest first',
  help: '  --since ISO         only records from this ISO 8601 time on, e.g. 2026-01-31T12:00:00Z',
  async run(argv) {
    const { values, db } = parse(argv, { since: { type: 'string' } });
    const since = values.since === undefined ? 0 : isoTime('--since', values.since);
    return withTessera(db, 'existing', async ({ store }) => {
      // Streamed as one JSON array, so a long log never sits in memory.
      let n = 0;
      if (values.json) process.stdout.write('[');
      for await (const r of records(store, since)) {
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
  summary: "check the audit log's hash chain: exit 0 if intact, 1 with the first broken record",
  async run(argv) {
    const { values, db } = parse(argv, {});
    return withTessera(db, 'existing', async ({ store }) => {
      // Take the head first and check up to it: records a running server appends meanwhile come
      // with a newer head, in the same transaction, and are checked next time.
      const head = await store.auditHead();
      const report = await verifyChain(records(store, 0, head.seq), head);
      if (values.json) {
        printJson(report);
      } else if (report.ok) {
        print(`OK: ${report.records} audit records, hash chain intact.`);
      } else {
        const p = report.problem;
        note(`audit log check FAILED at record ${p?.seq}: ${p?.reason} (${report.records} records before it are intact)`);
      }
      return report.ok ? EXIT.ok : EXIT.failed;
    });
  },
};

export const auditCommands: readonly Command[] = [read, verify];

function auditJson(r: AuditRecord) {
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

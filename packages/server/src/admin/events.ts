/**
 * GET /admin/api/v1/events: the lifecycle as Server-Sent Events (WHATWG HTML §9.2), for the
 * console's live overview. Each event is one audit record (issued, rotated, revoked, reuse
 * detected, client and user changes, every audited write): ids, the actor, the reason and the
 * record's data, never a token, hash or secret (audit records hold none).
 *
 * Source: the audit log. Every write appends its records in its own transaction, whichever process
 * or instance made it, on SQLite and PostgreSQL alike, so tailing it misses nothing any instance
 * commits. Commit order: seq increases along each audit hash chain in commit order (a chain's head
 * is held from the first seq to the commit, audit/chain.ts) but not across chains (PostgreSQL
 * keeps 32), so one seq cannot say "everything before this was sent": a transaction on another
 * chain may still commit a lower one. A stream's position is therefore one seq per chain, and it
 * sends, chain by chain, the records up to that chain's head as read before them, so every record
 * it sends is committed and every record later committed on a chain comes after that chain's
 * position. The `id:` of each event is that position, the seqs joined by dots in chain order (a
 * single seq on SQLite, which keeps one chain), so Last-Event-ID resumes without loss or repeat.
 *
 * Wake-ups and fan-out (as feed/fan-out.ts does for the revocation feed): one poll of the chain
 * heads (one row on SQLite, one per chain on PostgreSQL) every POLL_MS while a stream is open,
 * whatever process made the change; nothing is read while none is. When the heads have moved, the
 * records up to them are read once and serialised once, page by page, as batches of frames from
 * one shared position (the frontier) to the next; every stream at a batch's start sends those same
 * bytes. The last batches are kept, so a stream a little behind (it was busy writing) still takes
 * them from memory; one elsewhere (resumed through Last-Event-ID, or further behind) reads the log
 * itself up to the frontier, and takes the batches from there. Heartbeat comments every
 * `heartbeat` ms, at which the admin token (and the console session a stream was opened through)
 * is checked again, between the pages of a catch-up too: a revoked or expired one ends the stream.
 * At most MAX_STREAMS streams per server, and MAX_TOKEN_STREAMS per admin token (one token cannot
 * take every slot): a console tab holds one.
 */
import { auditRecordsOf } from '../audit/verify-store.js';
import { auditJson } from '../cli/commands/audit.js';
import type { AuditHead, AuditRecord, Store } from '../store/types.js';
import { Problem } from './problem.js';

/** How often the chain heads are read while a stream is open. */
const POLL_MS = 250;
/** Records read per batch of frames: a catch-up yields (and checks the credential) after each such page of the log. */
const PAGE = 500;
/** Events kept in memory for streams a little behind the frontier; those further behind read the log. */
const KEEP_EVENTS = 2000;
/** Open event streams per server. */
export const MAX_STREAMS = 32;
/** Open event streams per admin token. */
export const MAX_TOKEN_STREAMS = 4;
/** Reconnection delay suggested to EventSource (§9.2.6 `retry`). */
const RETRY_MS = 2000;

/** One seq per audit chain, in chain order: everything up to it on that chain has been sent. */
type Position = number[];

const encode = (p: Position): string => p.join('.');

/** A Last-Event-ID this stream sent: as many seqs as the store has chains. */
function parsePosition(value: string, chains: number): Position {
  if (!/^\d{1,15}(\.\d{1,15}){0,255}$/.test(value) || value.split('.').length !== chains) {
    throw new Problem(400, 'Last-Event-ID is not an id this stream sent (one seq per audit chain, joined by dots)');
  }
  return value.split('.').map(Number);
}

/** A position past a chain's head was never sent: waiting for that chain to reach it would send nothing from it. */
function checkedPosition(position: Position, heads: readonly AuditHead[]): Position {
  const past = heads.find((h) => (position[h.chain] ?? 0) > h.seq);
  if (past !== undefined) {
    throw new Problem(400, `Last-Event-ID is past the head of audit chain ${past.chain} (seq ${past.seq}): not an id this stream sent`);
  }
  return position;
}

/** An audit record as an event's data: what the admin API's /audit shows, without the chain's hashes. */
function eventJson(r: AuditRecord) {
  const { prev_hash: _, hash: __, ...shown } = auditJson(r);
  return shown;
}

/** Frames read once for every stream: the events past position `from` up to position `to` (both encoded). */
interface Batch {
  from: string;
  to: Position;
  bytes: string;
  events: number;
}

/** The heads polled for the open streams, and the records past them read once and fanned out to every stream at the frontier. */
export class AuditTail {
  /** Everything up to it, chain by chain, has been read into batches (undefined while no stream is open). */
  private frontier: Position | undefined;
  /** Contiguous: each starts where the one before ends, the last ends at the frontier. */
  private batches: Batch[] = [];
  private kept = 0;
  /** Bumped when every stream has closed: a shared read begun before publishes nothing after. */
  private epoch = 0;
  private version = 0;
  private open = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly waiters = new Set<() => void>();
  /** Open streams by admin token id. */
  private readonly byToken = new Map<string, number>();

  constructor(
    private readonly store: Pick<Store, 'auditHeads' | 'readAudit'>,
    private readonly heartbeat: number,
  ) {}

  /**
   * Opens a stream at `lastEventId` (none: from now) for admin token `tokenId`. 429 past
   * MAX_STREAMS, or past MAX_TOKEN_STREAMS of that token; 400 for an id this server did not send.
   * `alive` is asked at each heartbeat whether the stream may go on.
   */
  async subscribe(lastEventId: string | undefined, tokenId: string, alive: () => Promise<boolean>): Promise<(signal: AbortSignal) => AsyncIterable<string>> {
    const mine = this.byToken.get(tokenId) ?? 0;
    // RFC 6585 §4: 429 with Retry-After; a slot frees when a stream closes.
    const busy = this.open >= MAX_STREAMS ? `at most ${MAX_STREAMS} event streams may be open at once`
      : mine >= MAX_TOKEN_STREAMS ? `at most ${MAX_TOKEN_STREAMS} event streams may be open at once with one admin token` : undefined;
    if (busy !== undefined) throw new Problem(429, busy, undefined, { 'retry-after': String(RETRY_MS / 1000) });
    // Counted from here, so streams opening at once cannot pass the bounds together.
    this.open++;
    this.byToken.set(tokenId, mine + 1);
    const close = () => this.close(tokenId);
    try {
      const heads = await this.store.auditHeads();
      // auditHeads lists the chains 0…n-1 in order: position[chain] is that chain's seq.
      const position = lastEventId === undefined ? heads.map((h) => h.seq) : checkedPosition(parsePosition(lastEventId, heads.length), heads);
      if (this.timer === undefined) {
        this.frontier = heads.map((h) => h.seq);
        this.timer = setInterval(() => this.poll(), POLL_MS);
        this.timer.unref();
      }
      return (signal) => this.stream(position, alive, signal, close);
    } catch (err) {
      close();
      throw err;
    }
  }

  private async *stream(position: Position, alive: () => Promise<boolean>, signal: AbortSignal, close: () => void): AsyncGenerator<string> {
    try {
      yield `retry: ${RETRY_MS}\n: connected\n\n`;
      let beat = Date.now() + this.heartbeat;
      /** At a heartbeat, whether the stream may go on (a check that fails, the database away, ends nothing: made again at the next beat). */
      const live = async () => {
        if (Date.now() < beat) return true;
        if (!(await alive().catch(() => true))) return false;
        beat = Date.now() + this.heartbeat;
        return true;
      };
      let ok = true;
      while (ok && !signal.aborted) {
        const seen = this.version;
        try {
          const shared = this.keptFrom(encode(position));
          // Not at a batch's start: read up to the frontier (everything up to it is committed), then take batches.
          const batches = shared.length > 0 ? shared : this.read(position, [...(this.frontier ?? [])]);
          for await (const batch of batches) {
            if (batch.events > 0) yield batch.bytes;
            // Only once sent: a read cut off by the database resumes after what was sent.
            position = [...batch.to];
            // A catch-up may take many batches: the credential is checked between them too.
            ok = await live();
            if (!ok) break;
          }
        } catch {
          // The database is away: `position` holds what was sent; read again at the next wake-up.
        }
        const due = Date.now() >= beat;
        ok &&= await live();
        if (!ok) break;
        if (due) yield ': heartbeat\n\n';
        await this.wait(seen, beat - Date.now(), signal);
      }
      if (!ok) yield ': the admin token or console session is no longer valid\n\n';
    } finally {
      close();
    }
  }

  /** The kept batches from position `at` on (none when `at` starts none: at the frontier, or elsewhere), each the same string for every stream. */
  private keptFrom(at: string): Batch[] {
    let i = this.batches.length - 1;
    while (i >= 0 && (this.batches[i] as Batch).from !== at) i--;
    return i < 0 ? [] : this.batches.slice(i);
  }

  /**
   * The records past `start` up to `target` (positions read from the heads: all committed), as
   * SSE frames, in seq order, a batch per PAGE records read (no frames, when all were already
   * sent), each with the position after it. `start` is not changed.
   */
  private async *read(start: Position, target: Position): AsyncGenerator<Batch> {
    const behind = target.flatMap((seq, chain) => (seq > (start[chain] ?? 0) ? [chain] : []));
    if (behind.length === 0) return;
    const position = [...start];
    const after = Math.min(...behind.map((chain) => position[chain] ?? 0));
    const top = Math.max(...behind.map((chain) => target[chain] ?? 0));
    let from = encode(position);
    let bytes = '';
    let events = 0;
    let read = 0;
    const batch = (): Batch => {
      const done = { from, to: [...position], bytes, events };
      from = encode(position);
      bytes = '';
      events = 0;
      read = 0;
      return done;
    };
    for await (const r of auditRecordsOf(this.store, 0, top, after)) {
      // Sent already, or past its chain's head: committed after the heads were read, sent after the next poll.
      if (r.seq > (position[r.chain] ?? 0) && r.seq <= (target[r.chain] ?? 0)) {
        position[r.chain] = r.seq;
        bytes += `id: ${encode(position)}\nevent: lifecycle\ndata: ${JSON.stringify(eventJson(r))}\n\n`;
        events++;
      }
      if (++read === PAGE) yield batch();
    }
    if (events > 0) yield batch();
  }

  /** Resolves when a batch is published past `seen`, after `ms`, or at abort. */
  private wait(seen: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.version !== seen || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  /** Reads the heads and, if they moved past the frontier, the records up to them: once, for every stream. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const heads = await this.store.auditHeads();
      const { epoch, frontier } = this;
      if (this.open === 0 || frontier === undefined) return;
      for await (const batch of this.read(frontier, heads.map((h) => h.seq))) {
        // Every stream closed meanwhile (and the state was reset): nothing to hand out.
        if (this.epoch !== epoch) return;
        if (batch.events > 0) this.publish(batch);
      }
    } catch {
      // The database is away: the next poll reads on from the frontier.
    } finally {
      this.polling = false;
    }
  }

  private publish(batch: Batch): void {
    this.batches.push(batch);
    this.kept += batch.events;
    while (this.kept > KEEP_EVENTS && this.batches.length > 1) this.kept -= (this.batches.shift() as Batch).events;
    this.frontier = [...batch.to];
    this.version++;
    for (const wake of [...this.waiters]) wake();
  }

  private close(tokenId: string): void {
    const mine = (this.byToken.get(tokenId) ?? 1) - 1;
    if (mine > 0) this.byToken.set(tokenId, mine);
    else this.byToken.delete(tokenId);
    if (--this.open > 0) return;
    // Nobody listens: nothing is read until a stream opens again, from the heads then.
    clearInterval(this.timer);
    this.timer = undefined;
    this.frontier = undefined;
    this.batches = [];
    this.kept = 0;
    this.epoch++;
  }
}

/**
 * The writer thread (writer.ts): its own connection to the data file; each message is a batch of
 * writes, and the writes that arrived before the thread got to them commit in one transaction.
 * Answers go back in one message per commit, after the commit.
 */
import { writeFileSync } from 'node:fs';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { openConnection } from './connection.js';
import { GroupCommit } from './group-commit.js';
import type { Call, Reply, ThreadOptions } from './writer.js';
import { SqliteWrites } from './writes.js';

if (!parentPort) throw new Error('writer-thread.js runs as a worker thread');
const port: MessagePort = parentPort;
const { path, synchronous } = workerData as ThreadOptions;
// Named for `top -H` and bench's CPU accounting per thread (Linux; elsewhere nothing to name).
try {
  writeFileSync('/proc/thread-self/comm', 'tessera-writer');
} catch {}
const db = openConnection(path, synchronous);
const writes = new SqliteWrites(db);
const group = new GroupCommit(db, writes.transaction);
let queue: Call[] = [];
let scheduled = false;

const plain = (error: unknown): Extract<Reply, { ok: false }>['error'] => {
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, ...('code' in e ? { code: e.code } : {}) };
};

function flush(): void {
  scheduled = false;
  const calls = queue;
  if (calls.length === 0) return;
  queue = [];
  let replies: Reply[];
  try {
    const outcomes = group.commitNow(calls.map((c) => () => (writes[c.name] as (...args: unknown[]) => unknown).apply(writes, c.args)));
    replies = outcomes.map((o, i) => {
      const id = (calls[i] as Call).id;
      return o.ok ? { id, ok: true, value: o.value } : { id, ok: false, error: plain(o.error) };
    });
  } catch (error) {
    // The commit itself failed (disk full, I/O error): nothing of the group was written.
    replies = calls.map((c) => ({ id: c.id, ok: false, error: plain(error) }));
  }
  port.postMessage(replies);
}

port.on('message', (message: string) => {
  if (message === 'close') {
    flush();
    db.close();
    port.close();
    return;
  }
  queue.push(...(JSON.parse(message) as Call[]));
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
});

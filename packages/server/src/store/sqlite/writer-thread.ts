/**
 * The writer thread (writer.ts): its own connection to the data file; each message is a batch of
 * writes, and the writes that arrived before the thread got to them commit in one transaction.
 * Answers go back in one message per commit, after the commit.
 *
 * With a socket (a cluster primary's thread), batches also come from other processes, one JSON
 * line each (SocketWriter); after each commit every connection gets one line with the answers to
 * its own writes, empty if it had none: that line is also how it learns that something committed.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { openConnection } from './connection.js';
import { GroupCommit } from './group-commit.js';
import { type Call, isBatch, onLines, type Reply, type ThreadOptions } from './writer.js';
import { SqliteWrites } from './writes.js';

if (!parentPort) throw new Error('writer-thread.js runs as a worker thread');
const port: MessagePort = parentPort;
const { path, synchronous, socket } = workerData as ThreadOptions;
// Named for `top -H` and bench's CPU accounting per thread (Linux; elsewhere nothing to name).
try {
  writeFileSync('/proc/thread-self/comm', 'tessera-writer');
} catch {}
const db = openConnection(path, synchronous);
const writes = new SqliteWrites(db);
const group = new GroupCommit(db, writes.transaction);
/** Where each queued write came from: the parent port (undefined) or a socket connection. */
let queue: Call[] = [];
let from: Array<Socket | undefined> = [];
let scheduled = false;
const connections = new Set<Socket>();

const plain = (error: unknown): Extract<Reply, { ok: false }>['error'] => {
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, ...('code' in e ? { code: e.code } : {}) };
};

function flush(): void {
  scheduled = false;
  const calls = queue;
  const senders = from;
  if (calls.length === 0) return;
  queue = [];
  from = [];
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
  // No other process connected (one process): all answers are the parent's. Answers to a
  // connection that closed meanwhile never go to the parent: their ids are the other process's.
  if (connections.size === 0 && senders.every((sender) => sender === undefined)) {
    port.postMessage(replies);
    return;
  }
  const own: Reply[] = [];
  const theirs = new Map<Socket, Reply[]>();
  for (const connection of connections) theirs.set(connection, []);
  replies.forEach((reply, i) => {
    const sender = senders[i];
    if (sender === undefined) own.push(reply);
    else theirs.get(sender)?.push(reply);
  });
  if (own.length > 0) port.postMessage(own);
  for (const [connection, list] of theirs) connection.write(`${JSON.stringify(list)}\n`);
}

function receive(calls: Call[], sender: Socket | undefined): void {
  for (const call of calls) {
    queue.push(call);
    from.push(sender);
  }
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

const server = socket === undefined ? undefined : createServer((connection) => {
  connections.add(connection);
  onLines(connection, (line) => {
    let calls: unknown;
    try {
      calls = JSON.parse(line);
    } catch {}
    // Not a writer's batch: nothing of it is written, and the connection is dropped.
    if (isBatch(calls)) receive(calls, connection);
    else connection.destroy();
  });
  connection.on('error', () => {});
  connection.on('close', () => connections.delete(connection));
});

if (server) {
  server.on('error', (error) => {
    throw error;
  });
  server.listen(socket, () => port.postMessage('ready'));
} else {
  port.postMessage('ready');
}

port.on('message', (message: string) => {
  if (message === 'close') {
    flush();
    // end(), not destroy(): the last answers are still on their way.
    for (const connection of connections) connection.end();
    server?.close();
    db.close();
    port.close();
    return;
  }
  receive(JSON.parse(message) as Call[], undefined);
});

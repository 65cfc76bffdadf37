/**
 * A worker thread holding many revocation streams open (abuse-streams.test.ts), so that reading
 * them does not share the server's event loop. workerData: { url, auths, start }. It posts
 * { connected } once every stream is open, then, asked { expect: seqs }, waits until every stream
 * has received exactly those events and posts { mismatched, elapsed }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openStream } from './sse-client.mjs';

const { url, auths, start } = workerData;
const streams = [];
for (let i = 0; i < auths.length; i += 50) {
  streams.push(...(await Promise.all(auths.slice(i, i + 50).map((auth) => openStream(url, auth, start)))));
}
const refused = streams.filter((s) => s.status !== 200).length;
while (!streams.every((s) => s.status !== 200 || s.comments.includes('connected'))) await new Promise((r) => setTimeout(r, 10));
parentPort.postMessage({ connected: streams.length - refused, refused });

parentPort.on('message', async ({ expect }) => {
  const since = Date.now();
  while (!streams.every((s) => s.ids.length >= expect.length || s.isEnded())) await new Promise((r) => setTimeout(r, 10));
  const mismatched = streams.filter((s) => s.ids.length !== expect.length || s.ids.some((id, i) => id !== expect[i])).length;
  for (const s of streams) s.close();
  parentPort.postMessage({ mismatched, elapsed: Date.now() - since });
});

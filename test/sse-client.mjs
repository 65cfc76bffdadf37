/**
 * A lean Server-Sent Events client over node:http (one socket per stream, no pooling), for tests
 * that hold many revocation streams open: it keeps the ids of the `revocation` events received,
 * whether the server ended the stream, and the comments (heartbeats) seen. Plain JavaScript, so a
 * worker thread (stream-readers.mjs) can load it too; types in sse-client.d.mts.
 */
import { request } from 'node:http';

/** Opens GET /revocations/stream; resolves once the status line and headers arrived. */
export function openStream(baseUrl, authorization, lastEventId) {
  return new Promise((resolve, reject) => {
    const headers = { authorization, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
    const req = request(`${baseUrl}/revocations/stream`, { headers, agent: false }, (res) => {
      let body = '';
      let pending = '';
      let done = false;
      const stream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => body,
        ids: [],
        comments: [],
        ended: new Promise((end) => {
          res.on('end', end);
          res.on('close', end);
          res.on('error', end);
        }).then(() => {
          done = true;
        }),
        isEnded: () => done,
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (stream.status !== 200) {
          body += chunk;
          return;
        }
        pending += chunk;
        const frames = pending.split('\n\n');
        pending = frames.pop() ?? '';
        for (const frame of frames) {
          for (const line of frame.split('\n')) if (line.startsWith(':')) stream.comments.push(line.slice(1).trim());
          const id = /^id: (\d+)$/m.exec(frame);
          if (id && /^event: revocation$/m.test(frame)) stream.ids.push(Number(id[1]));
        }
      });
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

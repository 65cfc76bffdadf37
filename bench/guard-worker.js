#!/usr/bin/env node
/**
 * One guard process for `npm run bench:guard` (propagation latency). Told a token to watch, it
 * checks the guard still accepts it; when the feed reports its revocation, it verifies again and
 * reports the monotonic time (process.hrtime, the same clock in every process) at which the
 * guard refused it.
 */
import { createGuard } from '@tessera/guard';

const { issuer, client } = JSON.parse(process.argv[2]);
/** jti → { id, token } */
const watched = new Map();

const guard = createGuard({
  issuer,
  audience: issuer,
  client,
  onFeedEvent(event) {
    const w = event.type === 'token' ? watched.get(event.value) : undefined;
    if (!w) return;
    watched.delete(event.value);
    guard.verifyToken(w.token).then((result) => {
      const at = process.hrtime.bigint();
      process.send({ type: 'refused', id: w.id, refused: !result.ok, at: at.toString() });
    });
  },
});

process.on('message', async (m) => {
  if (m.type === 'watch') {
    const before = await guard.verifyToken(m.token);
    watched.set(m.jti, { id: m.id, token: m.token });
    process.send({ type: 'watching', id: m.id, accepted: before.ok });
  } else if (m.type === 'status') {
    process.send({ type: 'status', status: guard.status() });
  } else if (m.type === 'close') {
    await guard.close();
    process.exit(0);
  }
});

await guard.ready();
process.send({ type: 'ready' });

/**
 * One process of `npm run bench:client`: a session on the shared FileTokenStore (no lock option:
 * the store's file lock is the one taken), CONCURRENCY loops of session.fetch against the
 * benchmark's resource server until DURATION seconds have passed; prints one JSON line of counts.
 */
import { OAuth2Session, clientSecretBasic } from '@tessera/client';
import { FileTokenStore } from '@tessera/client/file-store';

const e = process.env;
const counts = { served: 0, rejected: 0, refreshed: 0, invalidGrant: 0, errors: {} };
const session = new OAuth2Session({
  issuer: e.ISSUER,
  clientId: e.CLIENT_ID,
  clientAuth: clientSecretBasic(e.CLIENT_SECRET),
  store: new FileTokenStore(e.STORE),
  storeKey: 'bench',
  onTokenUpdated: (_token, { reason }) => {
    if (reason === 'refreshed') counts.refreshed++;
  },
});
const deadline = Date.now() + Number(e.DURATION) * 1000;
async function loop() {
  while (Date.now() < deadline) {
    try {
      const res = await session.fetch(e.RS_URL);
      await res.arrayBuffer();
      if (res.status === 200) counts.served++;
      else counts.rejected++;
    } catch (err) {
      if (err.error === 'invalid_grant') counts.invalidGrant++;
      counts.errors[err.code ?? err.name] = (counts.errors[err.code ?? err.name] ?? 0) + 1;
      // A session that cannot go on says so once, not in a tight loop.
      if (err.code === 'ERR_REAUTHENTICATION_REQUIRED' || err.code === 'ERR_MISSING_TOKEN') return;
    }
  }
}
await Promise.all(Array.from({ length: Number(e.CONCURRENCY) }, loop));
console.log(JSON.stringify(counts));

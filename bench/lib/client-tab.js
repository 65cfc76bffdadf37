/**
 * One browser tab of `npm run bench:client`, loaded as a module by bench/client.js's page:
 * a session on the origin's IndexedDbTokenStore, whose default lock is Web Locks, and CONCURRENCY
 * loops of session.fetch against the resource server until the deadline. The token endpoint is
 * this origin's /token (the benchmark forwards it to Tessera), so the tab needs no CORS.
 */
import { IndexedDbTokenStore, OAuth2Session, clientSecretBasic } from '@tessera/client';

const store = new IndexedDbTokenStore();

/** Puts the first token in the shared store (one tab does it, before the run). */
window.seed = (token) => store.set('bench', token);

window.run = async ({ issuer, clientId, clientSecret, concurrency, duration }) => {
  const counts = { served: 0, rejected: 0, refreshed: 0, invalidGrant: 0, errors: {} };
  const session = new OAuth2Session({
    server: { issuer, token_endpoint: `${location.origin}/token` },
    clientId,
    clientAuth: clientSecretBasic(clientSecret),
    store,
    storeKey: 'bench',
    onTokenUpdated: (_token, { reason }) => {
      if (reason === 'refreshed') counts.refreshed++;
    },
  });
  const deadline = Date.now() + duration * 1000;
  const loop = async () => {
    while (Date.now() < deadline) {
      try {
        const res = await session.fetch(`${location.origin}/api`);
        await res.arrayBuffer();
        if (res.status === 200) counts.served++;
        else counts.rejected++;
      } catch (err) {
        if (err.error === 'invalid_grant') counts.invalidGrant++;
        counts.errors[err.code ?? err.name] = (counts.errors[err.code ?? err.name] ?? 0) + 1;
        if (err.code === 'ERR_REAUTHENTICATION_REQUIRED' || err.code === 'ERR_MISSING_TOKEN') return;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return counts;
};
window.ready = true;

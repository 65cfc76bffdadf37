/**
 * Small HTTP helpers for setting up scenarios (not for measuring): a form POST, and a pool of
 * freshly issued client_credentials access tokens, minted with autocannon (32 connections) so
 * that a pool of tens of thousands takes seconds.
 */
import { runLoad } from './load.js';

export const form = { 'content-type': 'application/x-www-form-urlencoded' };

/** POSTs a form with client_secret_basic; the parsed JSON answer (an error answer too). */
export async function postForm(url, auth, body) {
  const res = await fetch(url, { method: 'POST', headers: { ...form, authorization: auth }, body });
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url} answered ${res.status}: ${text.slice(0, 200)}`);
  }
}

const ACCESS_TOKEN = /"access_token":"([^"]+)"/;

/** `n` distinct live access tokens from `server`'s token endpoint (client_credentials). */
export async function mintTokens(server, n, connections = 32) {
  const tokens = new Set();
  for (let attempt = 0; tokens.size < n; attempt++) {
    if (attempt > 3) throw new Error(`${server.name}: could mint only ${tokens.size} of ${n} tokens`);
    await runLoad({
      url: server.url,
      connections: Math.min(connections, n - tokens.size),
      amount: n - tokens.size,
      request: {
        path: server.paths.token,
        headers: { ...form, authorization: server.auth },
        body: 'grant_type=client_credentials',
        check: (status, body) => status === 200 && ACCESS_TOKEN.test(body),
        onResponse(status, body) {
          const m = ACCESS_TOKEN.exec(body);
          if (status === 200 && m) tokens.add(m[1]);
        },
      },
    });
  }
  return [...tokens].slice(0, n);
}

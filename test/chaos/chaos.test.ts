/**
 * Crash safety (issue 9, "Suites that keep it fixed"): `tessera serve` is SIGKILLed at a random
 * moment while refresh rotations, code redemptions, a client_credentials storm and cascading
 * revocations run against it (and, in some rounds, while `tessera token revoke --user` runs, which
 * is killed too). After each kill the SQLite file must keep the store's invariants, hold every
 * token the server acknowledged (answered 200 with), keep every acknowledged revocation, and carry
 * a feed event for every revoked access token; then the server restarts on the same file.
 *
 * `npm test` runs 2 rounds; `npm run chaos -- --rounds 200` runs many (TESSERA_CHAOS_ROUNDS).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { invariantViolations, liveTokensOfUser, missingTokens, TESSERA_BIN, unrevokedTokens } from '../invariants.js';
import { Agent, authorizationCode, type Client, clientCredentials, exchange, refresh, revoke, signIn } from '../http-flows.js';
import { createFixture, type Fixture, type ServeProcess, serve } from '../server-process.js';

const ROUNDS = Number(process.env.TESSERA_CHAOS_ROUNDS ?? 2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const random = (min: number, max: number) => min + Math.floor(Math.random() * (max - min));

const dir = mkdtempSync(join(tmpdir(), 'tessera-chaos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the server (or the CLI) acknowledged during one round. */
interface Acks {
  /** token value → the client it was issued to. */
  tokens: Map<string, Client>;
  /** token values whose revocation was answered 200. */
  revoked: Set<string>;
  /** `token revoke --user` that exited 0: the user and when the command started. */
  userRevocations: { userId: string; started: number }[];
  requests: number;
  failures: number;
}

/** One round: load, a SIGKILL at a random moment, then every check on the file. */
async function round(f: Fixture, server: ServeProcess, n: number): Promise<{ violations: string[]; summary: string }> {
  const base = server.url;
  const acks: Acks = { tokens: new Map(), revoked: new Set(), userRevocations: [], requests: 0, failures: 0 };
  let stopped = false;
  /** Runs a worker's step until the server is gone; a step that fails ends the worker. */
  const loop = async (step: () => Promise<void>) => {
    while (!stopped) {
      try {
        acks.requests++;
        await step();
      } catch (err) {
        acks.failures++;
        if (!stopped && process.env.CHAOS_DEBUG) console.log(String((err as Error).cause ?? err));
        if (stopped) return;
        await sleep(5);
      }
    }
  };
  const ack = (body: any, client: Client) => {
    if (typeof body?.access_token === 'string') acks.tokens.set(body.access_token, client);
    if (typeof body?.refresh_token === 'string') acks.tokens.set(body.refresh_token, client);
  };
  const agents = f.users.map((u) => ({ user: u, agent: new Agent(base) }));
  const pickAgent = () => agents[random(0, agents.length)] as (typeof agents)[number];
  const codeClients = [f.code, f.codeJwt];

  // Refresh rotations: each chain redeems a code, then rotates until its grant is revoked.
  const rotation = async () => {
    const client = codeClients[random(0, 2)] as Client;
    const { user, agent } = pickAgent();
    const { code, verifier } = await authorizationCode(agent, user, client);
    const first = await exchange(base, client, code, verifier);
    if (first.status !== 200) return;
    ack(first.body, client);
    let current: string = first.body.refresh_token;
    while (!stopped) {
      const next = await refresh(base, client, current);
      if (next.status !== 200) return;
      ack(next.body, client);
      current = next.body.refresh_token;
    }
  };
  // Code redemptions, now and then the same code twice at once (the loser's reuse revokes the family).
  const redemption = async () => {
    const client = codeClients[random(0, 2)] as Client;
    const { user, agent } = pickAgent();
    const { code, verifier } = await authorizationCode(agent, user, client);
    const tries = Math.random() < 0.3 ? 2 : 1;
    const answers = await Promise.all(Array.from({ length: tries }, () => exchange(base, client, code, verifier)));
    for (const a of answers) if (a.status === 200) ack(a.body, client);
  };
  const storm = async () => {
    const a = await clientCredentials(base, f.machine);
    if (a.status === 200) ack(a.body, f.machine);
  };
  // Revocations: of an access token (that token), of a refresh token (its grant, cascading).
  const revoker = async () => {
    const all = [...acks.tokens];
    const [token, client] = all[random(0, all.length)] ?? [];
    if (!token || !client) {
      await sleep(10);
      return;
    }
    if ((await revoke(base, client, token)).status === 200) acks.revoked.add(token);
  };
  // The CLI revoking every grant of a user, SIGKILLed in half the rounds at a random moment.
  const target = random(5, 80);
  let cliState = 'not run';
  const cliRun = (async () => {
    const at = random(0, target);
    while (!stopped && acks.tokens.size < at) await sleep(5);
    if (stopped || Math.random() < 0.25) return;
    const user = pickAgent().user;
    const started = Date.now();
    const cli = spawn(process.execPath, [TESSERA_BIN, 'token', 'revoke', '--user', user.username, '--db', f.db, '--json'], { stdio: 'ignore' });
    const killer = Math.random() < 0.5 ? setTimeout(() => cli.kill('SIGKILL'), random(50, 1500)) : undefined;
    const code = await new Promise<number | null>((resolve) => cli.once('exit', (c) => resolve(c)));
    clearTimeout(killer);
    cliState = code === 0 ? 'exit 0' : `killed (${cli.signalCode ?? code})`;
    if (code === 0) acks.userRevocations.push({ userId: user.id, started });
  })();

  // Every user signs in before the load starts (two workers sharing a fresh agent would race
  // for its CSRF cookie).
  for (const { user, agent } of agents) await signIn(agent, user);
  const workers = [
    ...Array.from({ length: 3 }, () => loop(rotation)),
    ...Array.from({ length: 2 }, () => loop(redemption)),
    ...Array.from({ length: 4 }, () => loop(storm)),
    ...Array.from({ length: 2 }, () => loop(revoker)),
  ];
  // The moment of the kill: after a random number of acknowledged tokens (so a loaded machine
  // still gets writes in flight), plus a random few milliseconds.
  const started = performance.now();
  while (acks.tokens.size < target && performance.now() - started < 20_000) await sleep(2);
  await sleep(random(0, 40));
  const killAfter = Math.round(performance.now() - started);
  await server.kill();
  stopped = true;
  await Promise.all([...workers, cliRun]);

  const violations = [...invariantViolations(f.db)];
  const missing = missingTokens(f.db, acks.tokens.keys());
  if (missing.length) violations.push(`${missing.length} acknowledged tokens are missing after the kill`);
  const unrevoked = unrevokedTokens(f.db, acks.revoked);
  if (unrevoked.length) violations.push(`${unrevoked.length} tokens whose revocation was acknowledged are not revoked`);
  for (const r of acks.userRevocations) {
    const live = liveTokensOfUser(f.db, r.userId, r.started);
    if (live.length) violations.push(`token revoke --user exited 0 but ${live.length} of the user's earlier tokens are live`);
  }
  const summary = `round ${n}: SIGKILL after ${killAfter} ms; ${acks.requests} steps, ${acks.tokens.size} tokens and ${acks.revoked.size} revocations acknowledged; CLI ${cliState}; ${violations.length} violations`;
  return { violations, summary };
}

describe('chaos: SIGKILL during writes', () => {
  it(`${ROUNDS} rounds of SIGKILL during rotations, code redemptions, client_credentials storms and cascading revocations lose no acknowledged write and break no invariant`, async () => {
    const f = await createFixture(join(dir, 'tessera.db'));
    let server = await serve(f.db);
    try {
      for (let n = 1; n <= ROUNDS; n++) {
        const { violations, summary } = await round(f, server, n);
        console.log(summary);
        expect(violations, summary).toEqual([]);
        // The same file must open again, and serve.
        server = await serve(f.db);
        const health = await fetch(`${server.url}/healthz`);
        expect(health.status).toBe(200);
      }
    } finally {
      const code = await server.stop();
      expect(code).toBe(0);
    }
    expect(invariantViolations(f.db)).toEqual([]);
  }, 60_000 + ROUNDS * 40_000);
});

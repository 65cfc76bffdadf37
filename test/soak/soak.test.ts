/**
 * Soak (issue 9, "Suites that keep it fixed"): a mix of every operation — client_credentials
 * tokens, refresh rotations, introspection, revocation, the code flow, the feed (pages and one
 * open stream), metadata — at a fixed rate against a spawned `tessera serve`, for a fixed time.
 * Reports errors (goal 0), p50/p99 per operation and the server's RSS over time (VmRSS), and
 * whether RSS stayed flat after the warm-up. Runs only from `npm run soak -- --minutes M
 * [--rate R] [--save]` (TESSERA_SOAK_MINUTES, TESSERA_SOAK_RATE, TESSERA_SOAK_SAVE): never in `npm test`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Agent, type Answer, authorizationCode, type Client, clientCredentials, exchange, getJson, introspect, refresh, revoke, signIn } from '../http-flows.js';
import { invariantViolations } from '../invariants.js';
import { createFixture, rssKiB, serve } from '../server-process.js';

const MINUTES = Number(process.env.TESSERA_SOAK_MINUTES ?? 0);
const RATE = Number(process.env.TESSERA_SOAK_RATE ?? 40);
/** Requests in flight beyond which a tick is skipped (and counted) rather than queued. */
const MAX_IN_FLIGHT = 64;
const CHAINS = 16;

const random = (n: number) => Math.floor(Math.random() * n);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

describe.runIf(MINUTES > 0)('soak', () => {
  it(`${MINUTES} min of mixed operations at ${RATE}/s give no errors`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-soak-'));
    const f = await createFixture(join(dir, 'tessera.db'), 4);
    const server = await serve(f.db);
    // Stopped by its PID whatever happens (a no-op once it exited).
    onTestFinished(() => server.kill());
    const base = server.url;
    const latency = new Map<string, number[]>();
    const errors = new Map<string, number>();
    const examples: string[] = [];
    let skipped = 0;
    let inFlight = 0;
    const record = (op: string, a: Answer, ok: boolean) => {
      (latency.get(op) ?? latency.set(op, []).get(op))?.push(a.ms);
      if (!ok) fail(op, `${a.status} ${JSON.stringify(a.body).slice(0, 160)}`);
    };
    const fail = (op: string, what: string) => {
      errors.set(op, (errors.get(op) ?? 0) + 1);
      if (examples.length < 10) examples.push(`${op}: ${what}`);
    };

    const agents = f.users.map((user) => ({ user, agent: new Agent(base) }));
    for (const { user, agent } of agents) await signIn(agent, user);
    /** Refresh chains, each used by one operation at a time (a concurrent second use would be reuse). */
    const chains: { client: Client; user: string; refreshToken: string; busy: boolean }[] = [];
    const access: { client: Client; token: string }[] = [];
    const keep = (client: Client, token: string) => {
      access.push({ client, token });
      if (access.length > 500) access.splice(0, 250);
    };
    /**
     * A user's grant to a client is shared by all the chains of the pair: a code flow and a grant
     * revocation of the same pair never overlap (the revocation would end the flow's code).
     */
    const pairsInUse = new Set<string>();
    const codeFlow = async () => {
      const client = random(2) ? f.code : f.codeJwt;
      const { user, agent } = agents[random(agents.length)] as (typeof agents)[number];
      const pair = `${user.id} ${client.id}`;
      if (pairsInUse.has(pair)) return;
      pairsInUse.add(pair);
      try {
        await chainFor(client, user, agent);
      } finally {
        pairsInUse.delete(pair);
      }
    };
    const chainFor = async (client: Client, user: (typeof agents)[number]['user'], agent: Agent) => {
      const { code, verifier, ms } = await authorizationCode(agent, user, client);
      (latency.get('authorize') ?? latency.set('authorize', []).get('authorize'))?.push(ms);
      const a = await exchange(base, client, code, verifier);
      record('token:authorization_code', a, a.status === 200);
      if (a.status !== 200) return;
      keep(client, a.body.access_token);
      chains.push({ client, user: user.id, refreshToken: a.body.refresh_token, busy: false });
    };
    while (chains.length < CHAINS) await codeFlow();

    const ops: [number, () => Promise<void>][] = [
      [30, async () => {
        const a = await clientCredentials(base, f.machine);
        record('token:client_credentials', a, a.status === 200);
        if (a.status === 200) keep(f.machine, a.body.access_token);
      }],
      [20, async () => {
        const from = random(chains.length);
        const chain = chains.find((c, i) => !c.busy && i >= from) ?? chains.find((c) => !c.busy);
        if (!chain) return;
        chain.busy = true;
        const a = await refresh(base, chain.client, chain.refreshToken);
        chain.busy = false;
        record('token:refresh_token', a, a.status === 200);
        if (a.status === 200) {
          chain.refreshToken = a.body.refresh_token;
          keep(chain.client, a.body.access_token);
        }
      }],
      [20, async () => {
        const t = access[random(access.length)];
        if (!t) return;
        const a = await introspect(base, f.resource, t.token);
        record('introspect', a, a.status === 200 && typeof a.body.active === 'boolean');
      }],
      [6, async () => {
        const [t] = access.splice(random(access.length), 1);
        if (!t) return;
        const a = await revoke(base, t.client, t.token);
        record('revoke:access', a, a.status === 200);
      }],
      [3, async () => {
        // A whole grant: revoke a chain's refresh token, which revokes the user's grant to that
        // client and with it every chain of the pair (the cascade); then start a new chain.
        const chain = chains.find((c) => !c.busy && !pairsInUse.has(`${c.user} ${c.client.id}`) && !chains.some((o) => o.busy && o.user === c.user && o.client === c.client));
        if (!chain) return;
        const pair = `${chain.user} ${chain.client.id}`;
        pairsInUse.add(pair);
        for (let i = chains.length - 1; i >= 0; i--) if (chains[i]?.user === chain.user && chains[i]?.client === chain.client) chains.splice(i, 1);
        const a = await revoke(base, chain.client, chain.refreshToken).finally(() => pairsInUse.delete(pair));
        record('revoke:refresh', a, a.status === 200);
        for (let i = 0; i < 4 && chains.length < CHAINS; i++) await codeFlow();
      }],
      [10, async () => {
        const a = await getJson(base, `/revocations?after=${feedCursor}&limit=500`, f.resource);
        record('revocations', a, a.status === 200 && Array.isArray(a.body.events));
        if (a.status === 200) feedCursor = a.body.cursor;
      }],
      [5, async () => {
        const a = await getJson(base, random(2) ? '/.well-known/oauth-authorization-server' : '/jwks.json');
        record('metadata', a, a.status === 200);
      }],
    ];
    let feedCursor = 0;
    const total = ops.reduce((n, [w]) => n + w, 0);
    const pick = () => {
      let r = random(total);
      for (const [w, op] of ops) {
        r -= w;
        if (r < 0) return op;
      }
      return ops[0]?.[1] as () => Promise<void>;
    };

    // One revocation stream open throughout, counting the events it delivers.
    const streamAbort = new AbortController();
    let streamed = 0;
    const stream = (async () => {
      const res = await fetch(`${base}/revocations/stream`, { headers: { authorization: f.resource.basic }, signal: streamAbort.signal });
      if (res.status !== 200 || !res.body) return fail('revocations/stream', `status ${res.status}`);
      const decoder = new TextDecoder();
      for await (const chunk of res.body) streamed += (decoder.decode(chunk as Uint8Array).match(/^event: revocation$/gm) ?? []).length;
    })().catch((err: Error) => {
      if (!streamAbort.signal.aborted) fail('revocations/stream', String(err.cause ?? err));
    });

    const rss: { s: number; kib: number; anonKib: number }[] = [];
    const start = performance.now();
    const sampleEvery = Math.max(1000, Math.round((MINUTES * 60_000) / 60));
    const sampler = setInterval(() => {
      const sample = rssKiB(server.pid);
      if (sample !== undefined) rss.push({ s: Math.round((performance.now() - start) / 1000), ...sample });
    }, sampleEvery);
    const pending = new Set<Promise<void>>();
    const end = start + MINUTES * 60_000;
    let started = 0;
    // Open loop at a fixed rate: an operation starts every 1/RATE s whether or not others finished.
    while (performance.now() < end) {
      const due = start + (started * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      started++;
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped++;
        continue;
      }
      inFlight++;
      const p: Promise<void> = pick()()
        .catch((err: Error) => fail('network', String(err.cause ?? err)))
        .finally(() => {
          inFlight--;
          pending.delete(p);
        });
      pending.add(p);
    }
    await Promise.all(pending);
    clearInterval(sampler);
    const elapsed = (performance.now() - start) / 1000;
    streamAbort.abort();
    await stream;
    const exit = await server.stop();
    const violations = invariantViolations(f.db);
    rmSync(dir, { recursive: true, force: true });

    // RSS after warm-up (the first fifth of the run): the least-squares slope over the remaining
    // samples, and the growth it amounts to over that stretch; flat when that is under 5 %.
    const warm = rss.filter((r) => r.s >= elapsed / 5);
    const meanS = warm.reduce((n, r) => n + r.s, 0) / (warm.length || 1);
    const meanKib = warm.reduce((n, r) => n + r.kib, 0) / (warm.length || 1);
    const slope = warm.reduce((n, r) => n + (r.s - meanS) * (r.kib - meanKib), 0) / (warm.reduce((n, r) => n + (r.s - meanS) ** 2, 0) || 1);
    const span = (warm.at(-1)?.s ?? 0) - (warm[0]?.s ?? 0);
    const growth = meanKib ? (slope * span) / meanKib : 0;
    const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
    const rows = [...latency].sort().map(([op, ms]) => {
      const sorted = [...ms].sort((a, b) => a - b);
      return { op, n: ms.length, p50: +percentile(sorted, 50).toFixed(1), p99: +percentile(sorted, 99).toFixed(1), errors: errors.get(op) ?? 0 };
    });
    const report = {
      date: new Date().toISOString(), minutes: MINUTES, rate: RATE, elapsedSeconds: +elapsed.toFixed(1), operations: started - skipped, skipped,
      errors: errorCount, errorExamples: examples, streamedEvents: streamed, serverExit: exit, invariantViolations: violations,
      latency: rows, rss, rssFlatAfterWarmup: Math.abs(growth) < 0.05, rssGrowthAfterWarmup: +(growth * 100).toFixed(1), rssSlopeMiBPerMinute: +((slope * 60) / 1024).toFixed(2),
    };
    const lines = [
      `soak: ${MINUTES} min at ${RATE} ops/s: ${report.operations} operations (${skipped} skipped: ${MAX_IN_FLIGHT} in flight), ${errorCount} errors, ${streamed} events on the open stream`,
      'operation                   n       p50 ms   p99 ms   errors',
      ...rows.map((r) => `${r.op.padEnd(26)} ${String(r.n).padStart(6)} ${String(r.p50).padStart(9)} ${String(r.p99).padStart(8)} ${String(r.errors).padStart(8)}`),
      `RSS (MiB, anonymous part in parentheses) by second: ${rss.map((r) => `${r.s}s ${(r.kib / 1024).toFixed(0)} (${(r.anonKib / 1024).toFixed(0)})`).join(', ')}`,
      `RSS after warm-up (${Math.round(elapsed / 5)} s): ${report.rssFlatAfterWarmup ? 'flat' : 'NOT flat'} (trend ${report.rssSlopeMiBPerMinute} MiB/min, ${report.rssGrowthAfterWarmup} % over ${span} s; flat = under 5 %)`,
      ...examples.map((e) => `error: ${e}`),
    ];
    console.log(lines.join('\n'));
    if (process.env.TESSERA_SOAK_SAVE) {
      const out = join(import.meta.dirname, '../../bench/results');
      mkdirSync(out, { recursive: true });
      const file = join(out, `soak-${report.date.replace(/[:.]/g, '-')}.json`);
      writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`saved ${file}`);
    }
    expect({ errors: errorCount, examples, violations, exit }).toEqual({ errors: 0, examples: [], violations: [], exit: 0 });
  }, (MINUTES * 60 + 180) * 1000);
});

/**
 * The revoked set: what the feed said was revoked, kept only until the tokens it covers would have
 * expired anyway. Ids (token, family, grant) match outright; user, client and issued-before events
 * cover only tokens issued before their instant, and a JWT's `iat` has one-second precision, so a
 * token issued in that same second is 'ambiguous' (the guard then asks the server).
 */

import type { WireEvent } from '@tessera/core';

/** One revocation feed event, as the server sends it (@tessera/core defines it for both). */
export type FeedEvent = WireEvent;

/** What the guard knows of a token: its ids and its issue time (seconds). */
export interface TokenFacts {
  jti: string;
  sub: string;
  clientId: string;
  iat: number;
  grant?: string | undefined;
  family?: string | undefined;
}

export type Verdict = 'live' | 'revoked' | 'ambiguous';

/** An instant before which tokens are revoked (ms), and until when it matters (s). */
interface Cut {
  before: number;
  until: number;
}

/** Whether a token issued at `iat` (seconds, truncated) was issued before `before` (ms). */
function issuedBefore(iat: number, before: number): Verdict {
  if (iat * 1000 + 999 < before) return 'revoked';
  return iat * 1000 >= before ? 'live' : 'ambiguous';
}

export class RevocationSet {
  /** id → until, in seconds (a small integer: V8 stores it inline, which keeps a million entries lean). */
  private readonly ids = { token: new Map<string, number>(), family: new Map<string, number>(), grant: new Map<string, number>() };
  private readonly cuts = { user: new Map<string, Cut>(), client: new Map<string, Cut>() };
  private issuedBeforeCuts: Cut[] = [];
  private sweep: Iterator<[Map<string, number | Cut>, string, number]> | undefined;

  /** `leeway` (s): entries outlive their `until` by the clock tolerance the JWT checks allow. */
  constructor(private readonly leeway: number) {}

  add(e: FeedEvent): void {
    const until = Math.ceil(e.until / 1000);
    if (e.type === 'token' || e.type === 'family' || e.type === 'grant') {
      const map = this.ids[e.type];
      const key = String(e.value);
      map.set(key, Math.max(until, map.get(key) ?? 0));
    } else if (e.type === 'user' || e.type === 'client') {
      const map = this.cuts[e.type];
      const known = map.get(String(e.value));
      map.set(String(e.value), { before: Math.max(e.at, known?.before ?? 0), until: Math.max(until, known?.until ?? 0) });
    } else {
      this.issuedBeforeCuts.push({ before: Number(e.value), until });
    }
  }

  check(t: TokenFacts, now: number): Verdict {
    if (this.live(this.ids.token.get(t.jti), now)) return 'revoked';
    if (t.family !== undefined && this.live(this.ids.family.get(t.family), now)) return 'revoked';
    if (t.grant !== undefined && this.live(this.ids.grant.get(t.grant), now)) return 'revoked';
    let verdict = this.against(this.cuts.user.get(t.sub), t.iat, now, 'live');
    verdict = this.against(this.cuts.client.get(t.clientId), t.iat, now, verdict);
    for (const cut of this.issuedBeforeCuts) verdict = this.against(cut, t.iat, now, verdict);
    return verdict;
  }

  private live(until: number | undefined, now: number): boolean {
    return until !== undefined && until + this.leeway >= now;
  }

  /** The verdict so far, worsened by a cut that covers a token issued at `iat`. */
  private against(cut: Cut | undefined, iat: number, now: number, verdict: Verdict): Verdict {
    if (!cut || verdict === 'revoked' || !this.live(cut.until, now)) return verdict;
    const v = issuedBefore(iat, cut.before);
    return v === 'live' ? verdict : v;
  }

  /** Forgets entries whose tokens have all expired; visits at most `budget` entries per call. */
  prune(now: number, budget: number): number {
    this.issuedBeforeCuts = this.issuedBeforeCuts.filter((c) => c.until + this.leeway >= now);
    let removed = 0;
    for (let i = 0; i < budget; i++) {
      this.sweep ??= this.entries();
      const next = this.sweep.next();
      if (next.done) {
        this.sweep = undefined;
        break;
      }
      const [map, key, until] = next.value;
      if (until + this.leeway < now) {
        map.delete(key);
        removed++;
      }
    }
    return removed;
  }

  private *entries(): Generator<[Map<string, number | Cut>, string, number]> {
    for (const map of Object.values(this.ids)) for (const [key, until] of map) yield [map, key, until];
    for (const map of Object.values(this.cuts)) for (const [key, cut] of map) yield [map, key, cut.until];
  }

  get size() {
    const { token, family, grant } = this.ids;
    return { tokens: token.size, families: family.size, grants: grant.size, users: this.cuts.user.size, clients: this.cuts.client.size, issuedBefore: this.issuedBeforeCuts.length };
  }
}

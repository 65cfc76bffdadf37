/**
 * Revoked grants are swept (issue 9, defect 12): once a grant has been revoked for longer than
 * the retention, the sweeper deletes it with its tokens, while live grants, recently revoked ones,
 * the feed events guards still need and the audit chain stay.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSweeper } from '@tessera/server';
import { describe, expect, it } from 'vitest';
import { sleep, useServer } from './flows.js';
import { claims } from './guard-kit.js';

const bin = join(import.meta.dirname, '..', 'packages', 'server', 'bin', 'tessera.js');

describe('expiry sweep: revoked grants', () => {
  const h = useServer();

  it('a grant revoked longer than sweepRetention ago is swept with its tokens; a live grant and a recently revoked one stay; the feed event stays until its `until`; `tessera audit verify` passes', async () => {
    const app = await h.codeClient({ tokenFormat: 'jwt' });
    const [oldUser, recentUser, liveUser] = [await h.user(), await h.user(), await h.user()];
    const old = await h.userTokens(app, { user: oldUser });
    const recent = await h.userTokens(app, { user: recentUser });
    const live = await h.userTokens(app, { user: liveUser });
    const grantOf = (t: { access_token: string }) => claims(t.access_token).tessera_grant as string;

    // RFC 7009 §2.1: revoking a refresh token revokes its grant.
    expect((await h.revoke(app, old.refresh_token!, 'refresh_token')).status).toBe(200);
    const feed = await h.store.readFeed(0, 100);
    expect(feed.at(-1)?.target).toEqual({ grant: grantOf(old) });
    const retention = 1;
    await sleep(retention * 1000 + 100);
    expect((await h.revoke(app, recent.refresh_token!, 'refresh_token')).status).toBe(200);

    const sweeper = startSweeper(h.store, { batch: 2, interval: 3_600_000, retention });
    try {
      // The old grant's access and refresh token, then the grant: two batches.
      expect(await sweeper.sweepNow()).toBe(3);
    } finally {
      sweeper.stop();
    }
    expect(await h.store.getGrant(grantOf(old))).toBeUndefined();
    expect(await h.engine.findToken(old.access_token)).toBeUndefined();
    expect(await h.engine.findToken(old.refresh_token!)).toBeUndefined();
    expect(await h.store.getGrant(grantOf(recent))).toMatchObject({ revokedAt: expect.any(Number) });
    expect(await h.engine.findToken(recent.refresh_token!)).toMatchObject({ revokedAt: expect.any(Number) });
    expect(await h.store.getGrant(grantOf(live))).toMatchObject({ revokedAt: null });
    expect(await h.active(live.access_token)).toBe(true);
    // Still inactive, and still refused: a swept refresh token is unknown, never live again.
    expect(await h.active(old.access_token)).toBe(false);
    expect((await h.refresh(app, old.refresh_token!)).body.error).toBe('invalid_grant');
    // Guards still learn of the old revocation until its access token expires.
    expect((await h.store.readFeed(0, 100)).map((e) => e.seq)).toEqual(expect.arrayContaining(feed.map((e) => e.seq)));
    const verified = await promisify(execFile)(process.execPath, [bin, 'audit', 'verify', '--db', h.server.db], { env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } });
    expect(verified.stdout).toMatch(/^OK: .*hash chain intact/);
  });
});

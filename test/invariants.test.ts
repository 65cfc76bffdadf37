/**
 * The checker the fuzz, chaos and soak suites rely on (invariants.ts) must see each kind of
 * damage: a store built through HTTP is sound, and each tampering of the file is reported.
 */
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServer } from './flows.js';
import { invariantViolations, missingTokens, storeViolations, unrevokedTokens } from './invariants.js';

const h = useServer();
let sound: string;
let work: string;
let tokens: { access_token: string; refresh_token?: string };
let revokedAccess: string;

beforeAll(async () => {
  const c = await h.codeClient();
  tokens = await h.userTokens(c);
  const other = await h.userTokens(c);
  revokedAccess = other.access_token;
  expect((await h.revoke(c, revokedAccess)).status).toBe(200);
  // A consistent snapshot of the live file, WAL included, to tamper with copies of.
  work = mkdtempSync(join(tmpdir(), 'tessera-invariants-'));
  sound = join(work, 'sound.db');
  const live = new Database(h.server.db, { readonly: true });
  live.prepare('VACUUM INTO ?').run(sound);
  live.close();
  // VACUUM INTO creates the file with the umask's mode; the CLI refuses a data file others can read.
  chmodSync(sound, 0o600);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of the sound file with one change. */
function tampered(name: string, sql: string): string {
  const path = join(work, `${name}.db`);
  copyFileSync(sound, path);
  chmodSync(path, 0o600);
  const db = new Database(path);
  db.exec(sql);
  db.close();
  return path;
}

describe('store invariants checker', () => {
  it('finds nothing wrong with a store written through HTTP', () => {
    expect(invariantViolations(sound)).toEqual([]);
    expect(missingTokens(sound, [tokens.access_token, tokens.refresh_token as string, revokedAccess])).toEqual([]);
    expect(unrevokedTokens(sound, [revokedAccess])).toEqual([]);
  });

  it('reports an unrevoked token of a revoked grant', () => {
    expect(storeViolations(tampered('grant', 'UPDATE grants SET revoked_at = 1'))).toEqual([expect.stringMatching(/^unrevoked tokens of a revoked grant/)]);
  });

  it('reports a token without a grant', () => {
    expect(storeViolations(tampered('orphan', 'DELETE FROM grants'))).toEqual([expect.stringMatching(/^tokens without a grant/)]);
  });

  it('reports two live refresh tokens in one family', () => {
    const path = tampered('family', "UPDATE tokens SET family_id = 'f' WHERE kind = 'refresh'");
    expect(storeViolations(path)).toEqual([expect.stringMatching(/^families with more than one live refresh token/)]);
  });

  it('reports a revoked access token no feed event covers', () => {
    expect(storeViolations(tampered('feed', 'DELETE FROM revocation_feed'))).toEqual([expect.stringMatching(/^revoked access tokens no feed event covers/)]);
  });

  it('reports a broken audit chain (tessera audit verify)', () => {
    expect(invariantViolations(tampered('audit', "UPDATE audit SET actor = 'mallory' WHERE seq = 2"))).toEqual([expect.stringMatching(/^tessera audit verify exited 1/)]);
  });

  it('reports acknowledged tokens that are missing, and acknowledged revocations that are not in the file', () => {
    const path = tampered('lost', 'DELETE FROM tokens WHERE revoked_at IS NOT NULL; UPDATE tokens SET revoked_at = NULL');
    expect(missingTokens(path, [revokedAccess, tokens.access_token])).toEqual([revokedAccess]);
    expect(unrevokedTokens(tampered('unrevoked', 'UPDATE tokens SET revoked_at = NULL'), [revokedAccess])).toEqual([revokedAccess]);
  });
});

/** The file token store (`@tessera/client/file-store`): durable, atomic, private. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenSet } from '@tessera/client';
import { FileTokenStore } from '@tessera/client/file-store';
import { RedisTokenStore } from '@tessera/client/redis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-client-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const token = (n: number): TokenSet => ({ access_token: `at-${n}`, token_type: 'Bearer', refresh_token: `rt-${n}`, expires_at: 1_900_000_000 + n });

describe('FileTokenStore', () => {
  it('a token set written by one store is read back by a new store on the same file (a restart)', async () => {
    const path = join(dir, 'tokens.json');
    await new FileTokenStore(path).set('alice', token(1));
    const reopened = new FileTokenStore(path);
    expect(await reopened.get('alice')).toEqual(token(1));
    expect(await reopened.get('bob')).toBeUndefined();
    await reopened.delete('alice');
    expect(await new FileTokenStore(path).get('alice')).toBeUndefined();
  });

  it('the file holds credentials: it is created readable by its owner only (0600)', async () => {
    const path = join(dir, 'tokens.json');
    await new FileTokenStore(path).set('alice', token(1));
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('writes go through a temporary file renamed into place: concurrent sets all land, the file always parses, no temporary file stays', async () => {
    const path = join(dir, 'tokens.json');
    const store = new FileTokenStore(path);
    const writes = Promise.all(Array.from({ length: 50 }, (_, i) => store.set(`user-${i}`, token(i))));
    let done = false;
    void writes.finally(() => {
      done = true;
    });
    // A reader during the writes sees a whole file, old or new: JSON.parse never meets half of one.
    while (!done) {
      try {
        JSON.parse(readFileSync(path, 'utf8'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writes;
    const reopened = new FileTokenStore(path);
    for (let i = 0; i < 50; i++) expect(await reopened.get(`user-${i}`)).toEqual(token(i));
    expect(readdirSync(dir)).toEqual(['tokens.json']);
  });

  it('a file that does not hold a token store is an error, not an empty store (nothing is silently overwritten)', async () => {
    const path = join(dir, 'tokens.json');
    writeFileSync(path, '[1,2,3]');
    await expect(new FileTokenStore(path).get('alice')).rejects.toThrow(/does not hold a token store/);
    await expect(new FileTokenStore(path).set('alice', token(1))).rejects.toThrow();
    expect(readFileSync(path, 'utf8')).toBe('[1,2,3]');
  });
});

describe('an entry that is not a token set', () => {
  const notTokenSets: Array<[string, unknown]> = [
    ['null', null],
    ['a string', 'at-1'],
    ['a number', 5],
    ['an array', []],
    ['an object without token_type', { access_token: 'at-1' }],
    ['an access_token that is not a string', { access_token: 5, token_type: 'Bearer' }],
  ];

  it.each(notTokenSets)('FileTokenStore: %s under a key is a TokenStoreError (ERR_TOKEN_STORE) naming the file and the key, not a TypeError', async (_, entry) => {
    const path = join(dir, 'tokens.json');
    writeFileSync(path, JSON.stringify({ alice: entry }));
    const err = await new FileTokenStore(path).get('alice').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_TOKEN_STORE', name: 'TokenStoreError' });
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain('"alice"');
    // Other keys still read, and a key that is not there is no token.
    await expect(new FileTokenStore(path).get('toString')).resolves.toBeUndefined();
  });

  it.each(notTokenSets)('RedisTokenStore: %s under a key is a TokenStoreError (ERR_TOKEN_STORE) naming the key, not a TypeError', async (_, entry) => {
    const redis = { sendCommand: async (args: string[]) => (args[1] === 'tessera:token:alice' ? JSON.stringify(entry) : null) };
    const err = await new RedisTokenStore(redis).get('alice').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_TOKEN_STORE', name: 'TokenStoreError' });
    expect((err as Error).message).toContain('tessera:token:alice');
    await expect(new RedisTokenStore(redis).get('bob')).resolves.toBeUndefined();
  });
});

/**
 * A TokenStore in a JSON file, for CLIs and servers on Node (or Bun, Deno), shared safely by any
 * number of processes. Its own entry point, `@tessera/client/file-store`, so the main entry stays
 * free of node: imports.
 *
 * Writes are atomic: the new content goes to a temporary file in the same directory, is flushed,
 * then renamed over the old one, so a crash leaves either the old file or the new, never half of
 * one. The file holds credentials and is created with mode 0600.
 *
 * Two file locks (file-lock.ts), both next to the file and there only while held:
 *   - `lock`, per key (PATH.KEYHASH.lock): sessions on this store take it around read → refresh
 *     → write, so processes sharing the file refresh one at a time (no option needed);
 *   - the write lock (PATH.lock) around each read-modify-write of the file, so that processes
 *     writing different keys never lose each other's writes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TokenStoreError } from '../errors.js';
import type { TokenLock } from '../lock/token-lock.js';
import type { TokenSet } from '../rfc6749/token.js';
import { FileLock, type FileLockOptions } from './file-lock.js';
import { parseStored, storedTokenSet, type TokenStore } from './token-store.js';

type Contents = Record<string, TokenSet>;

export { FileLock } from './file-lock.js';
export type { FileLockOptions } from './file-lock.js';

export interface FileTokenStoreOptions {
  /** The file locks' staleness and wait (see FileLock). */
  lock?: FileLockOptions;
}

export class FileTokenStore implements TokenStore {
  /** One refresh at a time per key, among all processes using this file. */
  readonly lock: TokenLock;
  /** Writes from this process, in order: each read-modify-write sees the previous one's result. */
  private queue: Promise<unknown> = Promise.resolve();
  readonly #files: FileLock;

  constructor(
    readonly path: string,
    options: FileTokenStoreOptions = {},
  ) {
    const files = new FileLock(options.lock);
    this.#files = files;
    this.lock = { withLock: (key, fn) => files.withLock(`${path}.${createHash('sha256').update(key).digest('hex').slice(0, 16)}.lock`, fn) };
  }

  async get(key: string): Promise<TokenSet | undefined> {
    await this.queue.catch(() => {});
    const contents = await this.read();
    return storedTokenSet(Object.hasOwn(contents, key) ? contents[key] : undefined, `${this.path} (key ${JSON.stringify(key)})`, 'repair it or delete it (the session then has no token)');
  }

  set(key: string, token: TokenSet): Promise<void> {
    return this.update((contents) => {
      contents[key] = token;
    });
  }

  delete(key: string): Promise<void> {
    return this.update((contents) => {
      delete contents[key];
    });
  }

  private update(change: (contents: Contents) => void): Promise<void> {
    const next = this.queue.catch(() => {}).then(() =>
      this.#files.withLock(`${this.path}.lock`, async () => {
        const contents = await this.read();
        change(contents);
        await this.write(contents);
      }),
    );
    this.queue = next;
    return next;
  }

  private async read(): Promise<Contents> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return {};
      throw err;
    }
    const parsed = parseStored(text, this.path, 'repair it or delete it (the session then has no token)');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TokenStoreError(`${this.path} does not hold a token store (a JSON object)`);
    return parsed as Contents;
  }

  private async write(contents: Contents): Promise<void> {
    const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(JSON.stringify(contents, null, 2));
      await file.sync();
    } catch (err) {
      await file.close();
      await unlink(temp).catch(() => {});
      throw err;
    }
    await file.close();
    try {
      await rename(temp, this.path);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
    await syncDirectory(dirname(this.path));
  }
}

/** Makes the rename itself durable (POSIX); platforms that cannot open a directory skip it. */
async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r').catch(() => undefined);
  if (dir === undefined) return;
  try {
    await dir.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await dir.close();
  }
}

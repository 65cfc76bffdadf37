/**
 * A lock between processes on one machine (or on a file system they share), as a lock file: the
 * file exists while someone holds the lock. FileTokenStore's lock; Node only.
 *
 * Taking it: the holder's record (pid, host, PID namespace, a random nonce) is written to a
 * temporary file, which is then hard-linked to the lock's name: link() fails if the name exists,
 * atomically, so exactly one contender wins, and the lock file is never seen half-written.
 *
 * Waiting: never a busy spin. A waiter sleeps until the lock file's directory changes (fs.watch)
 * or a poll timer fires (25 ms, doubling up to 250 ms: the fallback where fs.watch says nothing,
 * e.g. on network file systems), then looks again. Waiters of one process queue in memory, so
 * only one of them at a time watches the file.
 *
 * Staleness (a holder that crashed never removes its file). The lock file is stale when
 *   - its holder ran on this host, in this PID namespace, and that pid is no longer alive
 *     (signal 0 says ESRCH): the lock is taken over at once; or
 *   - it was last touched more than `stale` ms ago (default 30 s). A live holder touches it every
 *     stale/3 ms, so this catches holders on other machines, and a pid reused after a reboot.
 * A stale lock is broken by renaming it to a unique name (atomic: of several breakers, one gets
 * it) and checking it is the one judged stale; a breaker that got a fresh lock instead puts it
 * back with link(). Release removes the file the same way, only if it is still this holder's.
 */
import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { link, readFile, readlink, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import { TokenLockError } from '../errors.js';
import { LocalLock } from '../lock/token-lock.js';

export interface FileLockOptions {
  /** Milliseconds after which an untouched lock file counts as abandoned (default 30,000). */
  stale?: number;
  /** Milliseconds to wait for the lock before TokenLockError (default 60,000). */
  timeout?: number;
}

interface Holder {
  pid: number;
  host: string;
  /** The PID namespace (Linux), so that a pid is only judged in the namespace it belongs to. */
  ns: string | undefined;
  nonce: string;
}

const MIN_POLL = 25;
const MAX_POLL = 250;

let namespace: Promise<string | undefined> | undefined;
const pidNamespace = () => {
  namespace ??= readlink('/proc/self/ns/pid').catch(() => undefined);
  return namespace;
};

/** Locks named by file path: withLock(path, fn). */
export class FileLock {
  readonly #stale: number;
  readonly #timeout: number;
  /** This process's callers of one path, one after the other, before the file. */
  readonly #local = new LocalLock();

  constructor(options: FileLockOptions = {}) {
    this.#stale = options.stale ?? 30_000;
    this.#timeout = options.timeout ?? 60_000;
  }

  withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#timeout;
    return this.#local.withLock(path, async () => {
      const held = await this.#acquire(path, deadline);
      try {
        return await fn();
      } finally {
        await held.release();
      }
    });
  }

  async #acquire(path: string, deadline: number): Promise<{ release(): Promise<void> }> {
    const me: Holder = { pid: process.pid, host: hostname(), ns: await pidNamespace(), nonce: randomBytes(12).toString('hex') };
    let poll = MIN_POLL;
    for (;;) {
      if (await this.#tryCreate(path, me)) return this.#held(path, me);
      const found = await this.#inspect(path);
      if (found === 'gone') continue;
      if (found.stale) {
        await breakLock(path, found.holder, me.nonce);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new TokenLockError(`the lock file ${path} stayed held for ${this.#timeout} ms`);
      await changeOf(path, Math.min(poll, left));
      poll = Math.min(poll * 2, MAX_POLL);
    }
  }

  async #tryCreate(path: string, me: Holder): Promise<boolean> {
    const temp = `${path}.${me.nonce}.tmp`;
    await writeFile(temp, JSON.stringify(me), { flag: 'wx', mode: 0o600 });
    try {
      await link(temp, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  /** Who holds the lock and whether they are gone for good; 'gone' when the file went away meanwhile. */
  async #inspect(path: string): Promise<'gone' | { holder: Holder | undefined; stale: boolean }> {
    let text: string;
    let touched: number;
    try {
      [text, touched] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtimeMs)]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      throw err;
    }
    const holder = parseHolder(text);
    if (Date.now() - touched > this.#stale) return { holder, stale: true };
    if (holder !== undefined && holder.host === hostname() && holder.ns === (await pidNamespace()) && !alive(holder.pid)) return { holder, stale: true };
    return { holder, stale: false };
  }

  #held(path: string, me: Holder): { release(): Promise<void> } {
    // Touched while held, so that a holder busy longer than `stale` is not taken for a dead one.
    const touch = setInterval(() => {
      const now = new Date();
      utimes(path, now, now).catch(() => {});
    }, this.#stale / 3);
    touch.unref();
    return {
      async release() {
        clearInterval(touch);
        await removeIfHeld(path, me.nonce);
      },
    };
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.nonce === 'string' ? (h as Holder) : undefined;
  } catch {
    return undefined;
  }
}

/** Signal 0 checks that a process exists without touching it; EPERM means it exists (another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the lock file if it is the one `expected` (a nonce; undefined: an unreadable file)
 * names: renamed aside first, so that exactly that file is judged; a different one is put back.
 */
async function takeAside(path: string, expected: string | undefined, by: string): Promise<void> {
  const aside = `${path}.${by}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const moved = parseHolder(await readFile(aside, 'utf8').catch(() => ''));
    if (moved?.nonce !== expected) {
      // Not the file judged: someone took the lock in between. Back it goes (link fails only if
      // a third process took the free name in these microseconds: the one window left).
      await link(aside, path).catch(() => {});
    }
  } finally {
    await unlink(aside).catch(() => {});
  }
}

const breakLock = (path: string, holder: Holder | undefined, by: string) => takeAside(path, holder?.nonce, by);
const removeIfHeld = (path: string, nonce: string) => takeAside(path, nonce, nonce);

/** Resolves when the directory of `path` reports a change to it, or after `ms`. */
function changeOf(path: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    let watcher: ReturnType<typeof watch> | undefined;
    const done = () => {
      clearTimeout(timer);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    try {
      const name = basename(path);
      watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) done();
      });
      watcher.on('error', () => {});
      // Released between the last look and the watch: no event will come, so look once more.
      stat(path).catch(() => done());
    } catch {
      // No watcher (inotify limits, an exotic file system): the timer alone.
    }
  });
}

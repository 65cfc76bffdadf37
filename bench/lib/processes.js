/**
 * Child processes and temporary directories of the benchmark, and their cleanup.
 *
 * Every server runs as its own child process, started here and stopped by its PID (SIGTERM, then
 * SIGKILL after a grace period). Everything started or created is remembered, so that
 * `cleanup()` — called from `finally`, and from the exit and signal handlers installed by
 * `installCleanupHandlers()` — stops what is still running and removes the temporary directories
 * even when a run fails half-way. Other resources (databases) join in with `onCleanup`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set();
const dirs = new Set();
const hooks = new Set();

/**
 * Runs `release` (async) in `cleanup()`, after the children are stopped; `releaseSync` in the exit
 * handler if it never ran. Returns a function that releases now, once.
 */
export function onCleanup(release, releaseSync = () => {}) {
  const hook = { release, releaseSync };
  hooks.add(hook);
  return () => {
    if (!hooks.delete(hook)) return Promise.resolve();
    return release();
  };
}

async function runHooks() {
  for (const hook of [...hooks]) {
    hooks.delete(hook);
    try {
      await hook.release();
    } catch (err) {
      console.error(`cleanup: ${err.message}`);
    }
  }
}

/** Remembers a child started elsewhere (e.g. with fork), so `cleanup()` stops it too. */
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return { stop: () => stop(child) };
}

/** A fresh temporary directory, removed by `cleanup()`. */
export function tempDir(prefix = 'tessera-bench-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** A port nobody listens on right now (127.0.0.1). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node [nodeArgs…] script args…` and waits until `url` answers any HTTP request.
 * stdout is ignored; stderr is kept (last 4 KiB) to explain a failed start.
 */
export async function startNode(name, script, args, { url, env = {}, nodeArgs = [], timeoutMs = 15_000 } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4096);
  });
  child.once('exit', () => children.delete(child));
  const handle = {
    name,
    pid: child.pid,
    url,
    /** VmHWM (peak resident set) of the process so far, in bytes; null once it has exited. */
    peakRss: () => peakRss(child.pid),
    /** Resets VmHWM to the current RSS (Linux ≥ 4.0, `echo 5 > /proc/PID/clear_refs`); false if not possible. */
    resetPeakRss: () => resetPeakRss(child.pid),
    stop: () => stop(child),
    stderr: () => stderr,
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited during start (${child.exitCode ?? child.signalCode}): ${stderr}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return handle;
    } catch {}
    if (Date.now() > deadline) {
      await stop(child);
      throw new Error(`${name} did not answer on ${url} within ${timeoutMs} ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The child processes of `pid` (Linux's /proc/PID/task/TID/children): `tessera serve --workers N`'s workers. */
export function childrenOf(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(' ').filter(Boolean));
  } catch {
    return [];
  }
}

/** The process's VmHWM plus its children's (an upper bound of their peak together). */
function peakRss(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (!m) return null;
    return Number(m[1]) * 1024 + childrenOf(pid).reduce((sum, child) => sum + (peakRss(child) ?? 0), 0);
  } catch {
    return null;
  }
}

function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    for (const child of childrenOf(pid)) resetPeakRss(child);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the child's PID; SIGKILL if it has not exited after `graceMs`. */
function stop(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/** Stops every child still running (by PID), runs the `onCleanup` hooks and removes every temporary directory. */
export async function cleanup() {
  await Promise.all([...children].map((c) => stop(c)));
  await runHooks();
  for (const d of dirs) removeDir(d);
}

/** On exit (synchronous: SIGKILL what is left) and on SIGINT/SIGTERM (clean up, then exit). */
export function installCleanupHandlers() {
  process.once('exit', () => {
    for (const c of children) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {}
    }
    for (const hook of hooks) {
      try {
        hook.releaseSync();
      } catch {}
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the servers and removing temporary files`);
      cleanup().finally(() => process.exit(130));
    });
  }
}

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  type FSWatcher,
  fstatSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  utimesSync,
  watch,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import { LatchkeyError } from '../errors.js';
import { cancelledError, throwIfAborted } from './locks.js';
import { errnoCode, processRuns } from './private-files.js';

/** Options of {@link acquireFileLock}. */
export interface FileLockOptions {
  /** When to stop waiting (epoch ms) and throw `timedOut()`. */
  readonly deadline: number;
  /** Stops waiting when aborted (`AUTH_CANCELLED`). */
  readonly signal?: AbortSignal | undefined;
  /**
   * How old the lock file of a holder on another machine (a shared home directory) may
   * grow before it counts as abandoned. Holders on this machine are checked by process.
   */
  readonly staleMs: number;
  /** The error for a wait that reached the deadline. */
  readonly timedOut: () => LatchkeyError;
  /** Makes the lock file's directory again when it has gone. */
  readonly prepare: () => Promise<void>;
  /** Run after each wait: a value ends the wait without the lock (see `SETTLED_WHILE_WAITING`). */
  readonly settled?: (() => Promise<unknown>) | undefined;
}

/** The wait ended without the lock: what the holder did already settled it. */
export interface SettledWait {
  readonly settled: unknown;
}

/** A lock file this process holds. */
export interface HeldFileLock {
  /** Removes the lock file, if it is still this holder's. */
  release(): Promise<void>;
  /** Why the lock was found lost while held (another holder replaced it), if it was. */
  readonly lost: Error | undefined;
}

/** Who holds a lock file: written into it when it is created. */
interface Holder {
  /** The holder's process id. */
  pid: number;
  /** The process's start time where the system tells it (Linux), to tell a reused pid. */
  start?: string;
  /** The machine the holder runs on. */
  host: string;
  /** Unique to this holding, so a holder knows its own file. */
  token: string;
}

/** How long a waiter sleeps at most between two looks when no change is reported. */
const FALLBACK_POLL_MS = 250;

const HOST = hostname();
let ownStart: { value: string | undefined } | undefined;

/**
 * The start time of process `pid` in clock ticks since boot (field 22 of
 * `/proc/<pid>/stat`), or `undefined` where the system does not say. A pid the kernel
 * gave to a new process after the holder died has another start time.
 */
function startTime(pid: number | 'self'): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

/** `fn()`, or `undefined` when it throws. */
function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder> | null;
    if (
      typeof h === 'object' &&
      h !== null &&
      Number.isInteger(h.pid) &&
      typeof h.host === 'string' &&
      typeof h.token === 'string' &&
      (h.start === undefined || typeof h.start === 'string')
    ) {
      return h as Holder;
    }
  } catch {
    // A file being written (created, not yet filled) or damaged.
  }
  return undefined;
}

/** Reads a lock file: its holder (if readable) and age, or `undefined` when it is gone. */
function readLock(
  path: string,
): { holder: Holder | undefined; text: string; ageMs: number } | undefined {
  try {
    const fd = openSync(path, 'r');
    try {
      const text = readFileSync(fd, 'utf8');
      return { holder: parseHolder(text), text, ageMs: Date.now() - fstatSync(fd).mtimeMs };
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Whether the holder of a lock file is gone: a process of this machine that no longer
 * runs (or whose pid now belongs to a process started later); a holder elsewhere, or a
 * file without a readable holder, whose file was not touched for `staleMs`.
 */
function abandoned(lock: { holder: Holder | undefined; ageMs: number }, staleMs: number): boolean {
  const { holder } = lock;
  if (holder === undefined || holder.host !== HOST) return lock.ageMs > staleMs;
  if (!processRuns(holder.pid)) return true;
  if (holder.start === undefined) return false;
  const start = startTime(holder.pid);
  return start !== undefined && start !== holder.start;
}

/** Creates `path` exclusively (mode 0600) with `holder` in it; `false` when it exists. */
function create(path: string, holder: Holder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, JSON.stringify(holder));
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Removes the lock file at `path` if it still holds exactly `text`. The file is first
 * renamed to a name of this process's own, which moves whatever is there at that
 * instant; if that turns out to be another holder's file, it is put back.
 */
function removeIf(path: string, text: string, token: string): void {
  const aside = `${path}.${token}.gone`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  const moved = attempt(() => readFileSync(aside, 'utf8')) ?? text;
  if (moved !== text) {
    // Another holder's file: back where it was, unless a newer one took the place
    // (link() never replaces a file), in which case that holder learns it lost it.
    attempt(() => linkSync(aside, path));
  }
  attempt(() => unlinkSync(aside));
}

/**
 * Watches the lock file's directory for a holder leaving or a file taken over. Made
 * before the next attempt to take the lock, so a release between that attempt and the
 * wait is never missed; where nothing can be watched (some network file systems), the
 * waits are the short fallback poll alone.
 */
function watchLock(path: string) {
  const name = basename(path);
  let changed = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file === null || file === name || String(file).startsWith(`${name}.`)) {
        changed = true;
        wake?.();
      }
    });
    watcher.on('error', () => {});
  } catch {
    // No file watching here: the fallback poll alone.
  }
  return {
    /** Waits for a change since the last wait, at most {@link FALLBACK_POLL_MS} or until `deadline`. */
    async next(deadline: number, signal: AbortSignal | undefined): Promise<void> {
      if (changed) {
        changed = false;
        return;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) return;
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          wake = undefined;
          changed = false;
          resolve();
        };
        const onAbort = () => {
          clearTimeout(timer);
          wake = undefined;
          reject(cancelledError(signal));
        };
        const timer = setTimeout(done, Math.min(remaining, FALLBACK_POLL_MS));
        wake = done;
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    close: () => watcher?.close(),
  };
}

/**
 * Takes the lock file at `path`: created exclusively (`O_EXCL`, mode 0600) with the
 * holder's pid, process start time, machine and a token of its own. A file left by a
 * holder that is gone (see {@link abandoned}) is taken over at once under a second,
 * short-lived lock (`<path>.takeover`), so that of several processes reaching an
 * abandoned lock together, exactly one removes it and they then compete for a new one
 * as usual. Waiters wake when the directory changes, with a short poll as a fallback.
 * While held, the file is touched every `staleMs / 2`, so holders on other machines
 * can tell it is alive, and checked, so a holding that was lost is reported.
 *
 * Only the waits are asynchronous. Lock files hold a few hundred bytes at most, and
 * each file call on them is one metadata operation that returns in microseconds from a
 * local disk; through the thread pool the same call costs several round trips and
 * promises. When many processes wait for one refresh, that work took the CPU from the
 * process doing the refresh. On a network file system, each call waits for the server.
 */
export async function acquireFileLock(
  path: string,
  options: FileLockOptions,
): Promise<HeldFileLock | SettledWait> {
  const { deadline, signal, staleMs } = options;
  ownStart ??= { value: startTime('self') };
  const start = ownStart.value;
  const holder: Holder = {
    pid: process.pid,
    ...(start !== undefined ? { start } : {}),
    host: HOST,
    token: randomBytes(12).toString('hex'),
  };
  const text = JSON.stringify(holder);
  let watching: ReturnType<typeof watchLock> | undefined;
  let prepared = false;
  try {
    for (;;) {
      throwIfAborted(signal);
      try {
        if (create(path, holder)) break;
        const found = readLock(path);
        // Another process taking it over at this moment is waited for like a holder.
        if (found && abandoned(found, staleMs) && takeOver(path, found.text, holder, staleMs)) {
          continue;
        }
      } catch (error) {
        if (error instanceof LatchkeyError) throw error;
        const code = errnoCode(error);
        // The lock file's directory went away, or was changed (replaced, its mode
        // widened or narrowed) since it was made: made again (or the reason it cannot
        // be), then one more try. Only a directory that went away is made more than once.
        if (prepared && code !== 'ENOENT') throw error;
        prepared = true;
        await options.prepare();
        if (Date.now() >= deadline) throw options.timedOut();
        continue;
      }
      if (Date.now() >= deadline) throw options.timedOut();
      if (watching === undefined) {
        // Watching from now on, so try once more: the holder may have left just now.
        watching = watchLock(path);
        continue;
      }
      await watching.next(deadline, signal);
      const settled = await options.settled?.();
      if (settled !== undefined) return { settled };
    }
  } finally {
    watching?.close();
  }
  if (signal?.aborted) {
    removeIf(path, text, holder.token);
    throw cancelledError(signal);
  }

  let lost: Error | undefined;
  /** Whether the lock file is still this holder's; if not, the holding is marked lost. */
  const stillHeld = (): boolean => {
    if (attempt(() => readFileSync(path, 'utf8')) === text) return true;
    lost ??= new Error('The lock file was removed or replaced while it was held');
    return false;
  };
  const beat = setInterval(
    () => {
      if (!stillHeld()) return;
      const at = new Date();
      attempt(() => utimesSync(path, at, at));
    },
    Math.max(1000, staleMs / 2),
  );
  beat.unref();
  return {
    get lost() {
      return lost;
    },
    async release() {
      clearInterval(beat);
      if (stillHeld()) removeIf(path, text, holder.token);
    },
  };
}

/**
 * Removes the abandoned lock file whose contents are `text`, holding `<path>.takeover`.
 * False when another process holds that guard (it is taking the lock over right now) or
 * the guard cannot be read: the caller then waits for a change, as for a holder.
 */
function takeOver(path: string, text: string, holder: Holder, staleMs: number): boolean {
  const guard = `${path}.takeover`;
  if (!create(guard, holder)) {
    const other = readLock(guard);
    if (other === undefined) return false;
    // A takeover lasts a few file operations: a guard whose holder is gone, or that is
    // older than `staleMs` (its holder stopped, or could not remove it), is cleared.
    if (!abandoned(other, staleMs) && other.ageMs <= staleMs) return false;
    removeIf(guard, other.text, holder.token);
    return true;
  }
  const guardText = JSON.stringify(holder);
  try {
    const now = readLock(path);
    if (now?.text === text) removeIf(path, text, holder.token);
  } finally {
    removeIf(guard, guardText, holder.token);
  }
  return true;
}

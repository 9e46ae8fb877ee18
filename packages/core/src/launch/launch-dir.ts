import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { LatchkeyError } from '../errors.js';
import { OWNER_MARKER } from './injection.js';

/** A private directory holding one launch's credential files. Internal. */
export interface LaunchDir {
  /** The absolute path. */
  readonly path: string;
  /** Writes `files` (name → content) atomically, `0600`, and removes files written before but not named now. */
  write(files: Readonly<Record<string, string>>): Promise<void>;
  /** Removes the directory and everything in it. */
  dispose(): Promise<void>;
  /** The same, synchronously, for exit and signal handlers. */
  disposeSync(): void;
}

/** A marker-less directory older than this is a leftover of a launch that died while starting. */
const UNMARKED_GRACE_MS = 60_000;

function owner(): string {
  return String(process.getuid?.() ?? userInfo().username.replace(/[^A-Za-z0-9_-]/g, '_'));
}

/** The directory that holds this user's launch directories: `<tmp>/latchkey-<uid>`. */
export function launchRoot(base?: string): string {
  return join(base ?? tmpdir(), `latchkey-${owner()}`);
}

function ioError(what: string, error: unknown): LatchkeyError {
  const code = (error as { code?: unknown }).code;
  return new LatchkeyError(
    'SERVER_SPAWN_FAILED',
    `Latchkey could not prepare the private directory ${what}${typeof code === 'string' ? ` (${code})` : ''}. Check that the temporary directory is writable, or pass another \`tmpDir\`.`,
  );
}

/** Creates the root `0700` if needed and checks that it is a directory of ours, private. */
async function ensureRoot(root: string): Promise<void> {
  try {
    await mkdir(root, { mode: 0o700 });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EEXIST') throw ioError(root, error);
  }
  const info = await lstat(root).catch((error: unknown) => {
    throw ioError(root, error);
  });
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) {
    throw new LatchkeyError(
      'SERVER_SPAWN_FAILED',
      `${root} is not a directory owned by this user, so Latchkey will not put credential files in it. Remove it, or pass another \`tmpDir\`.`,
    );
  }
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) await chmod(root, 0o700);
}

/** Whether a process with this id runs (one we may not signal counts as running). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

/**
 * Removes launch directories under `root` whose owner process is gone (a host killed
 * with SIGKILL cannot clean up after itself). Returns how many it removed.
 */
export async function removeStaleLaunchDirs(root: string): Promise<number> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  let removed = 0;
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, entry.name);
    const marker = await readFile(join(dir, OWNER_MARKER), 'utf8').catch(() => undefined);
    const pid = marker === undefined ? Number.NaN : Number(marker.trim());
    let stale: boolean;
    if (Number.isInteger(pid) && pid > 0) stale = !isAlive(pid);
    else {
      const info = await lstat(dir).catch(() => undefined);
      stale = info !== undefined && Date.now() - info.mtimeMs > UNMARKED_GRACE_MS;
    }
    if (stale) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      removed += 1;
    }
  }
  return removed;
}

/**
 * Makes a fresh private launch directory `<tmp>/latchkey-<uid>/<random>` (`0700`) with
 * an owner marker holding this process's id, after removing stale ones.
 */
export async function createLaunchDir(options: { tmpDir?: string } = {}): Promise<LaunchDir> {
  const root = launchRoot(options.tmpDir);
  await ensureRoot(root);
  await removeStaleLaunchDirs(root);
  const path = join(root, randomBytes(8).toString('hex'));
  try {
    await mkdir(path, { mode: 0o700 });
    await writeFile(join(path, OWNER_MARKER), `${process.pid}\n`, { mode: 0o600 });
  } catch (error) {
    await rm(path, { recursive: true, force: true }).catch(() => {});
    throw ioError(path, error);
  }
  return usingDir(path, true);
}

/** Wraps an existing directory; `owned` says whether disposing removes the directory itself. */
export function usingDir(path: string, owned: boolean): LaunchDir {
  let written = new Set<string>();
  let disposed = false;
  return {
    path,
    async write(files) {
      try {
        for (const [name, content] of Object.entries(files)) {
          const target = join(path, name);
          const temp = join(path, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
          await writeFile(temp, content, { mode: 0o600, flag: 'wx' });
          if (process.platform !== 'win32') await chmod(temp, 0o600);
          await rename(temp, target);
        }
      } catch (error) {
        throw ioError(path, error);
      }
      const now = new Set(Object.keys(files));
      for (const name of written) {
        if (!now.has(name)) await rm(join(path, name), { force: true }).catch(() => {});
      }
      written = now;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      if (owned) await rm(path, { recursive: true, force: true }).catch(() => {});
      else for (const name of written) await rm(join(path, name), { force: true }).catch(() => {});
    },
    disposeSync() {
      if (disposed) return;
      disposed = true;
      try {
        if (owned) rmSync(path, { recursive: true, force: true });
        else for (const name of written) rmSync(join(path, name), { force: true });
      } catch {
        // Exit handlers must not throw.
      }
    },
  };
}

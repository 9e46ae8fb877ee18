import { randomBytes } from 'node:crypto';
import { closeSync, fdatasync, open, writeSync } from 'node:fs';
import { link, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const fdOpen = promisify(open);
const fdDatasync = promisify(fdatasync);

/**
 * How the file store names a temporary file: `.tmp-<pid>-<random>` in the store's
 * folder, so the next opening of the store can tell a dead writer's leftovers by the pid.
 */
export const TEMP_PREFIX = '.tmp-';

/** A fresh temporary file name in `folder`, naming this process. */
export function tempPath(folder: string): string {
  return join(folder, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes a new file only this user can read (mode 0600, exclusive create) and syncs it to
 * disk. The calls that can wait for the disk or the file system's journal (the create and
 * the sync) run off the event loop; writing a few kilobytes into the page cache and
 * closing take microseconds and run inline, which saves two round trips through the
 * thread pool. It works on a file descriptor: through `fs/promises`' `FileHandle` the
 * same write takes about half as long again.
 */
export async function writePrivateFile(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = await fdOpen(path, 'wx', 0o600);
  try {
    for (let written = 0; written < bytes.byteLength; ) {
      written += writeSync(fd, bytes, written, bytes.byteLength - written);
    }
    await fdDatasync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Puts `data` at `path` unless a file is there already: written aside in `folder` and
 * linked into place (a link never replaces a file), so of two processes making it at
 * once, one file wins and both read the same one afterwards.
 */
export async function createOnce(folder: string, path: string, data: Uint8Array): Promise<void> {
  const temp = tempPath(folder);
  try {
    await writePrivateFile(temp, data);
    await link(temp, path).catch((error: unknown) => {
      if (errnoCode(error) !== 'EEXIST') throw error;
    });
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/** Whether process `pid` of this machine runs (`EPERM`: it does, as another user). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) !== 'ESRCH';
  }
}

/** The `code` of a Node.js system error, if it has one. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

import { mkdir, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './sleep.js';

/** Lock directory serialising the first extraction across processes (e.g. vitest workers). */
const LOCK_DIR = join(tmpdir(), 'latchkey-sparticuz-extract.lock');

/** How often, and how many times, a waiting process checks the lock (about 2 minutes). */
const POLL_MS = 250;
const MAX_POLLS = 480;

/** A lock older than this is taken to belong to a process that died mid-extraction. */
const STALE_LOCK_MS = 120_000;

async function tryLock(): Promise<boolean> {
  try {
    await mkdir(LOCK_DIR);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
    const info = await stat(LOCK_DIR).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > STALE_LOCK_MS) {
      await rmdir(LOCK_DIR).catch(() => {});
    }
    return false;
  }
}

/**
 * Path of @sparticuz/chromium's binary. Its `executablePath()` reports the binary as soon as
 * the file exists, even while another process is still writing it, so the first extraction
 * runs under a cross-process lock and other processes wait for it (bounded).
 */
export async function sparticuzChromium(): Promise<{ path: string; args: string[] }> {
  const chromium = (await import('@sparticuz/chromium')).default;
  for (let poll = 0; poll < MAX_POLLS; poll += 1) {
    if (await tryLock()) {
      try {
        return { path: await chromium.executablePath(), args: chromium.args };
      } finally {
        await rmdir(LOCK_DIR).catch(() => {});
      }
    }
    await sleep(POLL_MS);
  }
  throw new Error(`timed out waiting for ${LOCK_DIR} to be released`);
}

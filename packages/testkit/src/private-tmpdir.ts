import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Gives the calling test file a temporary folder of its own (`TMPDIR`, under the current
 * one, named `<prefix>…`), so that its checks for leftover profile folders never see
 * those of a test file running alongside. Returns the function that restores `TMPDIR`
 * and deletes the folder.
 */
export async function privateTmpdir(prefix: string): Promise<() => Promise<void>> {
  const saved = process.env.TMPDIR;
  const dir = await mkdtemp(join(tmpdir(), prefix));
  process.env.TMPDIR = dir;
  return async () => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    await rm(dir, { recursive: true, force: true });
  };
}

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The ids of this process's live child processes (Linux: from /proc; elsewhere none). */
export function childPids(): number[] {
  if (!existsSync('/proc/self/stat')) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name: state, ppid, ...
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z') pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** The entry file of a bin of a package installed in the repository (an MCP server from npm). */
export function packageBin(pkg: string, bin: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bins = JSON.parse(readFileSync(manifest, 'utf8')).bin as Record<string, string>;
  const file = bins[bin];
  if (!file) throw new Error(`${pkg} has no bin named ${bin}`);
  return join(dirname(manifest), file);
}

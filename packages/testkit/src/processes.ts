import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { sleep } from './sleep.js';

const require = createRequire(import.meta.url);

/** A process and its command line (arguments joined by spaces). */
export interface ProcessInfo {
  pid: number;
  command: string;
}

/** Live (not zombie) processes by id, with their parent's id (Linux: from /proc; elsewhere none). */
function parentsByPid(): Map<number, number> {
  const parents = new Map<number, number>();
  if (!existsSync('/proc/self/stat')) return parents;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields after it (state,
      // ppid, ...) start after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z') parents.set(Number(entry), Number(ppid));
    } catch {
      // Gone meanwhile.
    }
  }
  return parents;
}

/** The command line of process `pid`, or `undefined` when it is gone. */
function commandLine(pid: number | string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return undefined;
  }
}

/** The ids of this process's live child processes (Linux: from /proc; elsewhere none). */
export function childPids(): number[] {
  return [...parentsByPid()].filter(([, ppid]) => ppid === process.pid).map(([pid]) => pid);
}

/** The live descendants of `pid` (default: this process), with their command lines (Linux: /proc). */
export function descendantProcesses(pid = process.pid): ProcessInfo[] {
  const parents = parentsByPid();
  const found: ProcessInfo[] = [];
  const seen = new Set<number>([pid]);
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) {
      if (ppid !== parent || seen.has(child)) continue;
      seen.add(child);
      const command = commandLine(child);
      if (command === undefined) continue;
      found.push({ pid: child, command });
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/**
 * Processes anywhere on the machine, but this one, whose command line mentions `needle`
 * (a profile folder, say), as `<pid> <command line>` (Linux: /proc; elsewhere none).
 */
export function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const pid of parentsByPid().keys()) {
    if (pid === process.pid) continue;
    const command = commandLine(pid);
    if (command?.includes(needle)) found.push(`${pid} ${command.slice(0, 200)}`);
  }
  return found;
}

/**
 * Waits (bounded, `ms`) until no descendant of this process has a command line matching
 * `pattern`; returns those still there, as `<pid> <command line>`. A process that is
 * exiting may still be listed for a moment.
 */
export async function leftoverProcesses(pattern: RegExp, ms = 5000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = descendantProcesses()
      .filter((p) => pattern.test(p.command))
      .map((p) => `${p.pid} ${p.command.slice(0, 200)}`);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(100);
  }
}

/** The entry file of a bin of a package installed in the repository (an MCP server from npm). */
export function packageBin(pkg: string, bin: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bins = JSON.parse(readFileSync(manifest, 'utf8')).bin as Record<string, string>;
  const file = bins[bin];
  if (!file) throw new Error(`${pkg} has no bin named ${bin}`);
  return join(dirname(manifest), file);
}

// Cleanup when the host ends: SIGTERM and SIGINT kill the server and remove its
// directory, then the host ends as it would have; after SIGKILL, the next launch
// removes the directory the dead host left behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../src/launch/launch-dir.js';
import { launchServer } from '../src/sdk-v1.js';
import {
  canaryToken,
  childPids,
  eventually,
  fixtureRecipe,
  launchTmp,
  plainCredentials,
  processGone,
  tsxLoader,
} from './launch-helpers.js';

const hostScript = fileURLToPath(new URL('./fixtures/launch-host.ts', import.meta.url));
let tmp: Awaited<ReturnType<typeof launchTmp>>;
const stray: number[] = [];

interface Host {
  child: ChildProcess;
  pid: number;
  dir: string;
  output: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startHost(mode?: string): Promise<Host> {
  const child = spawn(
    process.execPath,
    ['--import', tsxLoader, hostScript, tmp.dir, ...(mode ? [mode] : [])],
    {
      env: { PATH: process.env.PATH ?? '', HOST_TOKEN: canaryToken() },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  child.stdout
    ?.setEncoding('utf8')
    .on('data', (text: string) => output.push(...text.split('\n').filter(Boolean)));
  child.stderr?.resume();
  await eventually(
    () => output.some((l) => l.startsWith('{')),
    20_000,
    'the host to launch its server',
  );
  const { pid, dir } = JSON.parse(output.find((l) => l.startsWith('{')) as string);
  stray.push(pid);
  return { child, pid, dir, output, exit };
}

beforeAll(async () => {
  tmp = await launchTmp();
});
afterAll(async () => {
  await tmp?.remove();
});
afterEach(() => {
  for (const pid of stray.splice(0)) {
    if (isAlive(pid)) {
      process.kill(pid, 'SIGKILL');
      throw new Error(`server ${pid} outlived its host`);
    }
  }
  expect(childPids()).toEqual([]);
});

describe('cleanup when the host ends', () => {
  it('SIGTERM: kills the server, removes the directory, and the host still dies of SIGTERM', async () => {
    const host = await startHost();
    expect(existsSync(host.dir)).toBe(true);
    host.child.kill('SIGTERM');
    expect(await host.exit).toEqual({ code: null, signal: 'SIGTERM' });
    await processGone(host.pid);
    expect(existsSync(host.dir)).toBe(false);
  });

  it("SIGINT with the host's own handler: the handler runs and decides, cleanup happens", async () => {
    const host = await startHost('own-sigint');
    host.child.kill('SIGINT');
    expect(await host.exit).toEqual({ code: 0, signal: null });
    expect(host.output).toContain('host handler ran');
    await processGone(host.pid);
    expect(existsSync(host.dir)).toBe(false);
  });

  it('SIGKILL: the server stops with its stdin, and the next launch removes the stale directory', async () => {
    const host = await startHost();
    host.child.kill('SIGKILL');
    expect((await host.exit).signal).toBe('SIGKILL');
    await processGone(host.pid);
    expect(existsSync(host.dir)).toBe(true);

    const next = await launchServer(fixtureRecipe(), plainCredentials(canaryToken()), {
      tmpDir: tmp.dir,
    });
    try {
      expect(existsSync(host.dir)).toBe(false);
      expect(tmp.launchDirs()).toHaveLength(1);
    } finally {
      await next.close();
    }
    expect(tmp.launchDirs()).toEqual([]);
  });
});

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { sparticuzChromium } from './chromium-binary.js';
import { LOOPBACK_HOST } from './loopback-redirects.js';

/** Chromium binaries tried, in order, when LATCHKEY_CHROME_PATH is not set. */
const SYSTEM_CHROMIUMS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
];

/** Chromium flags for an offline, sandboxed machine running as root. */
export const CHROMIUM_TEST_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // Keep the browser on 127.0.0.1: every other host goes to a dead local proxy port and
  // host names do not resolve. Chromium never proxies loopback addresses.
  `--proxy-server=http://${LOOPBACK_HOST}:9`,
  `--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE ${LOOPBACK_HOST}`,
];

/**
 * Flags from @sparticuz/chromium's own list that are kept. Left out on purpose: --single-process
 * (breaks opening several pages), --disable-web-security, --allow-running-insecure-content,
 * its GPU/ANGLE flags (we disable the GPU) and --headless (puppeteer sets that).
 */
const SPARTICUZ_KEPT_ARGS = new Set([
  '--no-zygote',
  '--disable-setuid-sandbox',
  '--font-render-hinting=none',
  '--no-default-browser-check',
  '--no-pings',
  '--disable-domain-reliability',
]);

/** How long closing the browser may take before its process is killed. */
const CLOSE_TIMEOUT_MS = 5000;

interface ChosenChromium {
  path: string;
  extraArgs: string[];
}

let chosen: Promise<ChosenChromium> | undefined;

async function chooseChromium(): Promise<ChosenChromium> {
  const fromEnv = process.env.LATCHKEY_CHROME_PATH;
  if (fromEnv) {
    return { path: fromEnv, extraArgs: [] };
  }
  const system = SYSTEM_CHROMIUMS.find((candidate) => existsSync(candidate));
  if (system) {
    return { path: system, extraArgs: [] };
  }
  const { path, args } = await sparticuzChromium();
  return { path, extraArgs: args.filter((arg) => SPARTICUZ_KEPT_ARGS.has(arg)) };
}

function chooseOnce(): Promise<ChosenChromium> {
  chosen ??= chooseChromium().catch((error: unknown) => {
    chosen = undefined;
    throw error;
  });
  return chosen;
}

/**
 * Path of the Chromium the testkit launches: LATCHKEY_CHROME_PATH, else a system Chromium,
 * else @sparticuz/chromium's binary (extracted to /tmp on first use).
 */
export async function chromiumExecutable(): Promise<string> {
  return (await chooseOnce()).path;
}

/** Options of {@link launchChromium}. */
export interface LaunchChromiumOptions {
  /** Run headless (default true). */
  headless?: boolean;
}

/** A launched browser and the way to dispose of it. */
export interface LaunchedChromium {
  browser: Browser;
  /** Closes the browser (killing it if it hangs) and deletes its profile directory. */
  close(): Promise<void>;
}

async function shutDown(browser: Browser): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS);
  });
  try {
    const result = await Promise.race([browser.close().then(() => 'closed' as const), timedOut]);
    if (result === 'timeout') {
      browser.process()?.kill('SIGKILL');
    }
  } catch {
    browser.process()?.kill('SIGKILL');
  } finally {
    clearTimeout(timer);
  }
}

/** Launches Chromium with a fresh temporary profile that is removed again by `close()`. */
export async function launchChromium(
  options: LaunchChromiumOptions = {},
): Promise<LaunchedChromium> {
  const { path, extraArgs } = await chooseOnce();
  const userDataDir = await mkdtemp(join(tmpdir(), 'latchkey-chromium-'));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: path,
      headless: options.headless ?? true,
      userDataDir,
      args: [...CHROMIUM_TEST_ARGS, ...extraArgs],
      timeout: 30_000,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    browser,
    close: () => {
      closing ??= (async () => {
        await shutDown(browser);
        await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
      })();
      return closing;
    },
  };
}

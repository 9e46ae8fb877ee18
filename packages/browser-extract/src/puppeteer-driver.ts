import { existsSync } from 'node:fs';
import {
  type BrowserDriver,
  type BrowserOpenRequest,
  type BrowserWindow,
  isLatchkeyError,
  LatchkeyError,
} from '@latchkey/core';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { findBrowser } from './find-browser.js';
import { guardNavigations, type NavigationGuard } from './navigation-guard.js';
import { type ActivityWatch, watchActivity } from './page-activity.js';
import { createTemporaryProfile, preparePersistentProfile, removeProfile } from './profile.js';
import { puppeteerPage } from './puppeteer-page.js';

/** Options of {@link puppeteerDriver}. */
export interface PuppeteerDriverOptions {
  /** The browser executable. Default: {@link findBrowser} (`LATCHKEY_CHROME_PATH` first). */
  executablePath?: string;
  /** Run without a window (for automation and tests). Default `false`: the user sees a window. */
  headless?: boolean;
  /**
   * `temporary` (default): a fresh profile, deleted when the window closes.
   * `persistent`: one profile per provider and account, kept (0700) in the user's data
   * directory, so that the next sign-in finds the service still logged in.
   * Never the user's own browser profile.
   */
  profile?: 'temporary' | 'persistent';
  /** Where persistent profiles are kept. Default: `latchkey/browser-profiles` in the user's data directory. */
  profilesDirectory?: string;
  /** Extra command-line switches for the browser. */
  args?: readonly string[];
  /**
   * Use an already running browser (started with `--remote-debugging-port`) instead of
   * launching one: its HTTP address (`http://127.0.0.1:9222`). The sign-in runs in a new,
   * isolated browser context that is closed afterwards; the browser stays up.
   */
  browserURL?: string;
  /** Like `browserURL`, with the browser's WebSocket address. */
  browserWSEndpoint?: string;
  /** How long launching or connecting may take. Default 30 s. */
  launchTimeoutMs?: number;
  /** How long closing may take before the browser process is killed. Default 5 s. */
  closeTimeoutMs?: number;
  /**
   * Called with each sign-in page before it opens the provider's page (for
   * automation, tests, or setting a viewport). Its result is not awaited.
   */
  onPage?: (page: Page) => unknown;
}

/** Switches for a sign-in window: no first-run prompts, no sync, no automation infobar. */
const DEFAULT_ARGS = [
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-sync',
  '--disable-features=Translate,MediaRouter',
];

function failure(message: string, error: unknown): LatchkeyError {
  if (isLatchkeyError(error)) return error;
  const detail = error instanceof Error ? error.message.split('\n')[0] : undefined;
  return new LatchkeyError('BROWSER_LAUNCH_FAILED', message, {
    cause: detail ? new Error(detail) : undefined,
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Everything opened for one sign-in, released in reverse order by `release()`. */
interface Resources {
  browser?: Browser;
  context?: BrowserContext;
  connected?: boolean;
  profile?: { path: string; temporary: boolean };
  guard?: NavigationGuard;
  watch?: ActivityWatch;
}

async function release(resources: Resources, closeTimeoutMs: number): Promise<void> {
  resources.watch?.dispose();
  const { browser } = resources;
  if (browser?.connected) await withTimeout(resources.guard?.dispose() ?? Promise.resolve(), 1000);
  if (browser && resources.connected) {
    await withTimeout(resources.context?.close() ?? Promise.resolve(), closeTimeoutMs).catch(
      () => {},
    );
    await browser.disconnect().catch(() => {});
  } else if (browser) {
    const process = browser.process();
    const closed = await withTimeout(browser.close(), closeTimeoutMs).catch(() => 'timeout');
    if (closed === 'timeout' && process && process.exitCode === null) {
      const exited = new Promise<void>((resolve) => process.once('exit', () => resolve()));
      process.kill('SIGKILL');
      await withTimeout(exited, closeTimeoutMs);
    }
  }
  if (resources.profile?.temporary) await removeProfile(resources.profile.path).catch(() => {});
}

/**
 * A `BrowserDriver` (from `@latchkey/core`) on puppeteer-core. It launches an installed Chrome, Chromium,
 * Edge or Brave in a visible window (headless on request) with an isolated profile,
 * over a pipe rather than a debugging port, or uses an already running browser. It
 * reads HttpOnly cookies through the DevTools protocol, reports navigations, route
 * changes, storage writes and responses that set cookies (a `fetch()` included) as
 * they happen, and blocks top-level navigations that the provider's allowlist refuses
 * before they are sent.
 *
 * @see https://pptr.dev/api/puppeteer.puppeteernode.launch
 */
export function puppeteerDriver(options: PuppeteerDriverOptions = {}): BrowserDriver {
  const connect = options.browserURL ?? options.browserWSEndpoint;
  if (options.browserURL && options.browserWSEndpoint) {
    throw new TypeError('puppeteerDriver() takes browserURL or browserWSEndpoint, not both');
  }
  if (connect && options.profile === 'persistent') {
    throw new TypeError(
      'puppeteerDriver() cannot keep a persistent profile in a browser it connects to',
    );
  }
  const launchTimeoutMs = options.launchTimeoutMs ?? 30_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;

  const start = async (request: BrowserOpenRequest, resources: Resources): Promise<Page> => {
    if (connect) {
      resources.connected = true;
      resources.browser = await puppeteer.connect({
        ...(options.browserURL ? { browserURL: options.browserURL } : {}),
        ...(options.browserWSEndpoint ? { browserWSEndpoint: options.browserWSEndpoint } : {}),
        defaultViewport: null,
        protocolTimeout: launchTimeoutMs,
      });
      resources.context = await resources.browser.createBrowserContext();
      return resources.context.newPage();
    }
    const executablePath = options.executablePath ?? findBrowser();
    if (options.executablePath !== undefined && !existsSync(options.executablePath)) {
      throw new LatchkeyError(
        'BROWSER_NOT_FOUND',
        `No browser is at ${options.executablePath}, the executablePath given to puppeteerDriver(). Point it to a Chrome, Chromium, Edge or Brave executable, or leave it out to let Latchkey look in the usual places.`,
      );
    }
    resources.profile =
      options.profile === 'persistent'
        ? {
            temporary: false,
            path: await preparePersistentProfile({
              providerId: request.providerId,
              ...(request.account !== undefined ? { account: request.account } : {}),
              ...(options.profilesDirectory !== undefined
                ? { profilesDirectory: options.profilesDirectory }
                : {}),
            }),
          }
        : { temporary: true, path: await createTemporaryProfile() };
    request.signal.throwIfAborted();
    try {
      resources.browser = await puppeteer.launch({
        executablePath,
        headless: options.headless ?? false,
        userDataDir: resources.profile.path,
        pipe: true,
        args: [...DEFAULT_ARGS, ...(options.args ?? [])],
        ignoreDefaultArgs: ['--enable-automation'],
        defaultViewport: null,
        timeout: launchTimeoutMs,
        protocolTimeout: launchTimeoutMs,
      });
    } catch (error) {
      if (request.signal.aborted) throw error;
      const noDisplay =
        process.platform === 'linux' &&
        !options.headless &&
        !process.env.DISPLAY &&
        !process.env.WAYLAND_DISPLAY;
      throw failure(
        `The browser at ${executablePath} could not be started.${noDisplay ? ' This machine has no display (DISPLAY is not set): sign in on a desktop, or pass headless: true for automation.' : ''}${options.profile === 'persistent' ? ' If another sign-in window uses the same profile, close it first.' : ''} Check that it runs on this machine, or ${options.executablePath !== undefined ? 'pass another executablePath' : 'point LATCHKEY_CHROME_PATH to another one'}.`,
        error,
      );
    }
    const [first] = await resources.browser.pages();
    return first ?? resources.browser.newPage();
  };

  return {
    async open(request) {
      const resources: Resources = {};
      let closing: Promise<void> | undefined;
      const close = () => {
        closing ??= release(resources, closeTimeoutMs);
        return closing;
      };
      try {
        const page = await start(request, resources);
        const browser = resources.browser as Browser;
        request.signal.throwIfAborted();
        resources.guard = await guardNavigations(browser, page, request);
        resources.watch = await watchActivity(browser, page, request.report);
        request.signal.throwIfAborted();
        try {
          options.onPage?.(page);
        } catch {
          // A host's hook must not break the sign-in.
        }
        // Not awaited: the extraction loop follows the page through its reports.
        page.goto(request.url, { waitUntil: 'domcontentloaded', timeout: 0 }).catch(() => {});
        const window: BrowserWindow = { page: puppeteerPage(browser, page), close };
        return window;
      } catch (error) {
        await close();
        if (request.signal.aborted) throw request.signal.reason;
        throw failure(
          connect
            ? 'The running browser could not be used for sign-in. Check that it is up, with remote debugging enabled, at the address given.'
            : 'The sign-in browser could not be opened. Check that it runs on this machine.',
          error,
        );
      }
    },
  };
}

import { accessSync, constants, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';
import { LatchkeyError } from '@latchkey/core';

/** The environment variable that names the browser to use, checked before anything else. */
export const CHROME_PATH_ENV = 'LATCHKEY_CHROME_PATH';

/** Options of {@link findBrowser}; the defaults are the running machine's. */
export interface FindBrowserOptions {
  /** The platform whose install locations to check. Default `process.platform`. */
  platform?: NodeJS.Platform;
  /** Environment variables (`LATCHKEY_CHROME_PATH`, `PATH`, `LOCALAPPDATA`...). Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The home directory. Default `os.homedir()`. */
  home?: string;
  /** Whether `path` is an executable file. Default: a check on the file system. */
  isExecutable?: (path: string) => boolean;
}

/** Executable names looked up on `PATH` on Linux, in order of preference. */
const LINUX_COMMANDS = [
  'google-chrome-stable',
  'google-chrome',
  'chromium',
  'chromium-browser',
  'microsoft-edge-stable',
  'microsoft-edge',
  'brave-browser',
  'brave',
];

/** Install locations on Linux that are not always on `PATH`. */
const LINUX_PATHS = [
  '/opt/google/chrome/chrome',
  '/usr/lib/chromium/chromium',
  '/snap/bin/chromium',
  '/opt/microsoft/msedge/msedge',
  '/opt/brave.com/brave/brave',
];

/** Application bundles on macOS, with the executable inside each. */
const MAC_APPS = [
  'Google Chrome.app/Contents/MacOS/Google Chrome',
  'Chromium.app/Contents/MacOS/Chromium',
  'Microsoft Edge.app/Contents/MacOS/Microsoft Edge',
  'Brave Browser.app/Contents/MacOS/Brave Browser',
];

/** Install locations on Windows, under each program folder. */
const WINDOWS_APPS = [
  'Google\\Chrome\\Application\\chrome.exe',
  'Chromium\\Application\\chrome.exe',
  'Microsoft\\Edge\\Application\\msedge.exe',
  'BraveSoftware\\Brave-Browser\\Application\\brave.exe',
];

function defaultIsExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    if (process.platform !== 'win32') accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Every place {@link findBrowser} checks on `platform`, in order (without `LATCHKEY_CHROME_PATH`). */
export function browserCandidates(options: FindBrowserOptions = {}): string[] {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  if (platform === 'win32') {
    const bases = [env.LOCALAPPDATA, env.PROGRAMFILES, env['PROGRAMFILES(X86)']].filter(
      (b): b is string => typeof b === 'string' && b !== '',
    );
    if (bases.length === 0) bases.push('C:\\Program Files', 'C:\\Program Files (x86)');
    return WINDOWS_APPS.flatMap((app) => bases.map((base) => win32.join(base, app)));
  }
  if (platform === 'darwin') {
    return MAC_APPS.flatMap((app) => [
      posix.join('/Applications', app),
      posix.join(home, 'Applications', app),
    ]);
  }
  const dirs = (env.PATH ?? '').split(':').filter((d) => d.startsWith('/'));
  const onPath = LINUX_COMMANDS.flatMap((command) => dirs.map((dir) => posix.join(dir, command)));
  return [...new Set([...onPath, ...LINUX_PATHS])];
}

/**
 * Finds an installed Chrome, Chromium, Edge or Brave: the executable named by
 * `LATCHKEY_CHROME_PATH` first, then the usual install locations of Linux (and `PATH`),
 * macOS and Windows. It never downloads a browser and never uses the user's own
 * profile. Throws `LatchkeyError` `BROWSER_NOT_FOUND` listing the places it checked.
 */
export function findBrowser(options: FindBrowserOptions = {}): string {
  const env = options.env ?? process.env;
  const isExecutable = options.isExecutable ?? defaultIsExecutable;
  const fromEnv = env[CHROME_PATH_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (isExecutable(fromEnv)) return fromEnv;
    throw new LatchkeyError(
      'BROWSER_NOT_FOUND',
      `${CHROME_PATH_ENV} is set to ${fromEnv}, which is not an executable file. Point it to the executable of Chrome, Chromium, Edge or Brave, or unset it.`,
    );
  }
  const candidates = browserCandidates(options);
  const found = candidates.find((path) => isExecutable(path));
  if (found !== undefined) return found;
  const platform = options.platform ?? process.platform;
  const list =
    platform === 'linux'
      ? `${LINUX_COMMANDS.join(', ')} on PATH, and ${LINUX_PATHS.join(', ')}`
      : candidates.join(', ');
  throw new LatchkeyError(
    'BROWSER_NOT_FOUND',
    `No Chrome, Chromium, Edge or Brave was found. Looked for ${list}. Install one of them, or set ${CHROME_PATH_ENV} to a browser executable, or pass executablePath to puppeteerDriver().`,
  );
}

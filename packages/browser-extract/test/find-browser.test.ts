import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticate, isLatchkeyError, memoryStore } from '@latchkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  browserCandidates,
  browserProfilePath,
  findBrowser,
  puppeteerDriver,
} from '../src/index.js';
import { startFakeWebApp } from './fixtures/fake-web-app.js';
import { fakeChatProvider, privateTmpdir, temporaryProfiles } from './fixtures/harness.js';

let dir: string;

let restoreTmpdir: (() => Promise<void>) | undefined;

beforeAll(async () => {
  restoreTmpdir = await privateTmpdir();
  dir = await mkdtemp(join(tmpdir(), 'latchkey-find-browser-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await restoreTmpdir?.();
});

/** Returns a check that lists temporary profiles created since it was made. */
function temporaryProfilesCheck(): () => string[] {
  const before = temporaryProfiles();
  return () => temporaryProfiles().filter((p) => !before.includes(p));
}

function notFound(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isLatchkeyError(error, 'BROWSER_NOT_FOUND')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected BROWSER_NOT_FOUND');
}

describe('findBrowser', () => {
  it('takes LATCHKEY_CHROME_PATH first, and says so when it points to nothing', async () => {
    const chrome = join(dir, 'my-chrome');
    await writeFile(chrome, '#!/bin/sh\n');
    await chmod(chrome, 0o755);
    expect(findBrowser({ env: { LATCHKEY_CHROME_PATH: chrome, PATH: '/usr/bin' } })).toBe(chrome);
    const message = notFound(() =>
      findBrowser({ env: { LATCHKEY_CHROME_PATH: join(dir, 'missing') } }),
    );
    expect(message).toContain('LATCHKEY_CHROME_PATH is set to');
    // A file that is not executable does not count.
    const plain = join(dir, 'not-executable');
    await writeFile(plain, '');
    notFound(() => findBrowser({ env: { LATCHKEY_CHROME_PATH: plain } }));
  });

  it('looks on PATH on Linux, Chrome before Chromium before Edge before Brave', async () => {
    const bin = join(dir, 'bin');
    await rm(bin, { recursive: true, force: true });
    await mkdir(bin);
    for (const name of ['brave-browser', 'chromium']) {
      await writeFile(join(bin, name), '#!/bin/sh\n');
      await chmod(join(bin, name), 0o755);
    }
    expect(findBrowser({ platform: 'linux', env: { PATH: `/nonexistent:${bin}` } })).toBe(
      join(bin, 'chromium'),
    );
  });

  it('lists every place it checked and how to point to a browser', () => {
    const none = () => false;
    const linux = notFound(() =>
      findBrowser({ platform: 'linux', env: { PATH: '/usr/bin' }, isExecutable: none }),
    );
    expect(linux).toContain('google-chrome-stable');
    expect(linux).toContain('/opt/microsoft/msedge/msedge');
    expect(linux).toContain('LATCHKEY_CHROME_PATH');
    expect(linux).toContain('executablePath');
    const mac = notFound(() =>
      findBrowser({ platform: 'darwin', env: {}, home: '/Users/ada', isExecutable: none }),
    );
    expect(mac).toContain('/Applications/Google Chrome.app/Contents/MacOS/Google Chrome');
    expect(mac).toContain('/Users/ada/Applications/Brave Browser.app');
    const windows = notFound(() =>
      findBrowser({
        platform: 'win32',
        env: { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local', PROGRAMFILES: 'C:\\Program Files' },
        isExecutable: none,
      }),
    );
    expect(windows).toContain('C:\\Program Files\\Microsoft\\Edge\\Application\\msedge.exe');
    expect(windows).toContain(
      'C:\\Users\\ada\\AppData\\Local\\Google\\Chrome\\Application\\chrome.exe',
    );
  });

  it('finds each platform’s browsers by their install locations', () => {
    const want = (suffix: string) => (path: string) => path.endsWith(suffix);
    expect(findBrowser({ platform: 'darwin', env: {}, isExecutable: want('Microsoft Edge') })).toBe(
      '/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge',
    );
    expect(
      findBrowser({
        platform: 'win32',
        env: { 'PROGRAMFILES(X86)': 'C:\\Program Files (x86)' },
        isExecutable: want('brave.exe'),
      }),
    ).toBe('C:\\Program Files (x86)\\BraveSoftware\\Brave-Browser\\Application\\brave.exe');
    expect(
      browserCandidates({ platform: 'linux', env: { PATH: 'relative:/usr/bin' } }),
    ).not.toContain('relative/google-chrome');
  });
});

describe('puppeteerDriver failures', () => {
  it('fails with BROWSER_NOT_FOUND through authenticate() when no browser can be found', async () => {
    const app = await startFakeWebApp();
    const saved = process.env.LATCHKEY_CHROME_PATH;
    process.env.LATCHKEY_CHROME_PATH = join(dir, 'nothing-here');
    const check = temporaryProfilesCheck();
    try {
      const error = await authenticate(fakeChatProvider(app), {
        store: memoryStore(),
        browser: puppeteerDriver({ headless: true }),
      }).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'BROWSER_NOT_FOUND')).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.LATCHKEY_CHROME_PATH;
      else process.env.LATCHKEY_CHROME_PATH = saved;
      await app.close();
    }
    expect(check()).toEqual([]);
  });

  it('fails with BROWSER_LAUNCH_FAILED when the browser does not start, leaving no profile', async () => {
    const app = await startFakeWebApp();
    const fake = join(dir, 'broken-chrome');
    await writeFile(fake, '#!/bin/sh\nexit 3\n');
    await chmod(fake, 0o755);
    const check = temporaryProfilesCheck();
    try {
      const error = await authenticate(fakeChatProvider(app), {
        store: memoryStore(),
        browser: puppeteerDriver({ headless: true, executablePath: fake, launchTimeoutMs: 5000 }),
      }).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'BROWSER_LAUNCH_FAILED')).toBe(true);
      expect((error as Error).message).toContain(fake);
    } finally {
      await app.close();
    }
    expect(check()).toEqual([]);
  });

  it('executablePath that does not exist: BROWSER_NOT_FOUND naming the path and the option, not an environment variable', async () => {
    const app = await startFakeWebApp();
    const missing = join(dir, 'no-such-chrome');
    const check = temporaryProfilesCheck();
    try {
      const error = await authenticate(fakeChatProvider(app), {
        store: memoryStore(),
        browser: puppeteerDriver({ headless: true, executablePath: missing }),
      }).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'BROWSER_NOT_FOUND')).toBe(true);
      expect((error as Error).message).toContain(missing);
      expect((error as Error).message).toContain('executablePath');
      expect((error as Error).message).not.toContain('LATCHKEY_CHROME_PATH');
    } finally {
      await app.close();
    }
    expect(check()).toEqual([]);
  });

  it('a broken browser given by executablePath: the advice names the option', async () => {
    const app = await startFakeWebApp();
    const fake = join(dir, 'broken-chrome-2');
    await writeFile(fake, '#!/bin/sh\nexit 3\n');
    await chmod(fake, 0o755);
    try {
      const error = await authenticate(fakeChatProvider(app), {
        store: memoryStore(),
        browser: puppeteerDriver({ headless: true, executablePath: fake, launchTimeoutMs: 5000 }),
      }).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'BROWSER_LAUNCH_FAILED')).toBe(true);
      expect((error as Error).message).toContain('pass another executablePath');
      expect((error as Error).message).not.toContain('LATCHKEY_CHROME_PATH');
    } finally {
      await app.close();
    }
  });

  it('rejects options that cannot work together', () => {
    expect(() =>
      puppeteerDriver({ browserURL: 'http://127.0.0.1:9222', profile: 'persistent' }),
    ).toThrow(TypeError);
    expect(() =>
      puppeteerDriver({
        browserURL: 'http://127.0.0.1:9222',
        browserWSEndpoint: 'ws://127.0.0.1:1/x',
      }),
    ).toThrow(TypeError);
  });

  it('keeps persistent profiles per provider and account, with safe folder names', () => {
    const base = '/data/profiles';
    expect(browserProfilePath({ providerId: 'slack', profilesDirectory: base })).toBe(
      '/data/profiles/slack/default',
    );
    expect(
      browserProfilePath({ providerId: 'slack', account: 'T1', profilesDirectory: base }),
    ).toBe('/data/profiles/slack/T1');
    expect(
      browserProfilePath({ providerId: 'slack', account: '..', profilesDirectory: base }),
    ).toBe('/data/profiles/slack/%2E.');
    expect(
      browserProfilePath({ providerId: 'slack', account: 'a/b\\c*', profilesDirectory: base }),
    ).toBe('/data/profiles/slack/a%2Fb%5Cc%2A');
  });
});

// Signs in to Acme Chat through a real browser window and keeps the session.
//
// It runs against a local copy of the web app (src/demo-app.ts), so it needs no
// account: with a desktop, a Chrome, Chromium, Edge or Brave window opens on its login
// page (any email and password work). Without one, or with `--unattended`, the browser
// runs headless and a scripted user fills the form in.
import { puppeteerDriver } from '@latchkey/browser-extract';
import { authenticate, isLatchkeyError, type LatchkeyEvent, memoryStore } from '@latchkey/core';
import type { Page } from 'puppeteer-core';
import { acmeChatProvider } from './acme-chat.js';
import { startDemoApp } from './demo-app.js';

const hasDisplay =
  process.platform === 'darwin' ||
  process.platform === 'win32' ||
  Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const unattended =
  process.argv.includes('--unattended') || !hasDisplay || process.env.CI === 'true';

/** The scripted user of an unattended run: types into the login form and submits it. */
async function typeLogin(page: Page): Promise<void> {
  await page.waitForSelector('#email', { timeout: 30_000 });
  await page.type('#email', 'ada@example.com');
  await page.type('#password', 'any password');
  await page.click('#submit');
}

function describeEvent(event: LatchkeyEvent): string {
  switch (event.type) {
    case 'browser_opened':
      return `browser opened on ${event.origin}`;
    case 'extraction_incomplete':
      return `waiting for ${event.missing.join(', ')}`;
    case 'navigation_blocked':
      return `blocked a navigation to ${event.origin}`;
    default:
      return event.type.replaceAll('_', ' ');
  }
}

const app = await startDemoApp();
try {
  const acme = acmeChatProvider({ baseUrl: app.url });

  const browser = puppeteerDriver({
    headless: unattended,
    // A fresh profile, deleted afterwards. `persistent` keeps one per account instead,
    // so the next login is one click.
    profile: 'temporary',
    // Chromium refuses to start as root with its sandbox on (containers, CI).
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    ...(unattended ? { onPage: (page: Page) => void typeLogin(page).catch(() => {}) } : {}),
  });

  const session = await authenticate(acme, {
    store: memoryStore(),
    browser,
    onEvent: (event) => console.log(`· ${describeEvent(event)}`),
  });
  console.log(`signed in to ${session.account}:`, JSON.stringify(session));

  // What an MCP server gets: the token, its cookie, and the browser's User-Agent.
  const { accessToken, secrets, metadata } = await session.fresh();
  const me = await fetch(`${app.url}/api/me`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${accessToken.reveal()}`,
      cookie: `acme_session=${secrets.session?.reveal()}`,
      'user-agent': String(metadata.userAgent),
    },
  });
  console.log(`the API accepts the stored session: HTTP ${me.status}`);
  await session.logout();
} catch (error) {
  if (!isLatchkeyError(error)) throw error;
  console.error(`${error.code}: ${error.message}`);
  process.exitCode = 1;
} finally {
  await app.close();
}

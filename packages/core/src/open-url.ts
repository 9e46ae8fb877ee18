import { LatchkeyError } from './errors.js';

/** What a host saw when the sign-in page showed an error: no secret, no full URL. */
export interface SignInPageError {
  /** The HTTP status of the page, when it was an HTTP error (for example 400). */
  readonly status?: number;
  /** A short description of the error as the page or the window showed it. */
  readonly message?: string;
}

/**
 * The sign-in page an {@link OpenUrl} opened, as the host can follow it: a host that
 * shows the sign-in in a window of its own (an Electron `BrowserWindow`, a webview) can
 * tell when the page is an error instead of a redirect back, and report it.
 */
export interface SignInPage {
  /**
   * Aborts when the sign-in ends, whichever way (done, failed, cancelled, timed out):
   * the host may close its window then.
   */
  readonly signal: AbortSignal;
  /**
   * Ends the sign-in at once with `SIGN_IN_PAGE_ERROR`: the page loaded is an HTTP
   * error, or the window shows an error instead of coming back to the application.
   * Report the authorization server's pages only, not the loopback redirect's (which
   * answers a response it refuses with an error page, and keeps waiting). Ignored once
   * the browser has come back or the sign-in has ended.
   */
  reportError(detail?: SignInPageError): void;
}

/**
 * Opens a URL for the user; hosts pass their own (for example Electron's
 * `shell.openExternal`). `page` is for hosts that can watch the page they opened.
 */
export type OpenUrl = (url: string, page: SignInPage) => Promise<void> | void;

/**
 * Opens `url` in the system's default browser through the `open` package. Fails with
 * `OPEN_URL_FAILED` when no browser can be started (for example on a server without a
 * desktop): pass `flow: 'device'` or `flow: 'paste'` there instead.
 */
export async function openSystemBrowser(url: string): Promise<void> {
  let child: import('node:child_process').ChildProcess;
  try {
    const { default: open } = await import('open');
    child = await open(url, { wait: false });
  } catch (error) {
    throw new LatchkeyError(
      'OPEN_URL_FAILED',
      'Could not open the system browser. Pass an openUrl option, or use flow "device" or "paste" on machines without a desktop.',
      { cause: error instanceof Error ? new Error(error.message) : undefined },
    );
  }
  await new Promise<void>((resolve, reject) => {
    const fail = () =>
      reject(
        new LatchkeyError(
          'OPEN_URL_FAILED',
          'Could not open the system browser. Pass an openUrl option, or use flow "device" or "paste" on machines without a desktop.',
        ),
      );
    child.once('error', fail);
    // The opener exits quickly; a non-zero exit means no browser could be started.
    child.once('exit', (code) => (code === 0 || code === null ? resolve() : fail()));
    setTimeout(resolve, 3000).unref();
  });
}

/**
 * The host's `openUrl` (or the system browser), with any failure reported as
 * `OPEN_URL_FAILED`. Internal: used by the strategies' sign-in flows.
 */
export function signInOpener(
  openUrl: OpenUrl | undefined,
): (url: string, page: SignInPage) => Promise<void> {
  const open: OpenUrl = openUrl ?? openSystemBrowser;
  return async (url, page) => {
    try {
      await open(url, page);
    } catch (error) {
      if (error instanceof LatchkeyError) throw error;
      throw new LatchkeyError(
        'OPEN_URL_FAILED',
        'The browser could not be opened for sign-in (the openUrl function failed). Fix it, or sign in without a browser on this machine: flow "device" (a code to enter on another device) or flow "paste" (the user pastes back the address the sign-in ends at).',
        { cause: error instanceof Error ? new Error(error.message) : undefined },
      );
    }
  };
}

/** A {@link SignInPage} for one opened URL, and how the flow reads and ends it. Internal. */
export interface SignInPageHandle {
  /** What the host's `openUrl` gets. */
  readonly page: SignInPage;
  /** Rejects with `SIGN_IN_PAGE_ERROR` once the host reports an error; never resolves. */
  readonly reported: Promise<never>;
  /** Ignores reports from now on (the browser came back). */
  settle(): void;
  /** Aborts `page.signal`: the sign-in is over. */
  end(): void;
}

const MAX_MESSAGE = 200;

/** The host's message, cut short, with URLs reduced to origin and path and the opened URL's values masked. */
function safeMessage(message: unknown, openedUrl: URL): string | undefined {
  if (typeof message !== 'string') return undefined;
  let text = message.replace(/\p{Cc}+/gu, ' ');
  for (const value of new Set(openedUrl.searchParams.values())) {
    if (value.length >= 8) text = text.split(value).join('…');
  }
  text = text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (found) => {
    try {
      const url = new URL(found);
      return `${url.origin}${url.pathname}`;
    } catch {
      return '…';
    }
  });
  text = text.trim();
  if (text === '') return undefined;
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

/**
 * Makes the {@link SignInPage} for the URL a flow opens. `signal` is the flow's; the
 * page's signal also aborts on {@link SignInPageHandle.end}. `redirectUri` is where the
 * browser should have come back, for the message.
 */
export function signInPageHandle(
  url: string,
  signal: AbortSignal,
  redirectUri: string,
): SignInPageHandle {
  const ended = new AbortController();
  let settled = false;
  let fail: (error: LatchkeyError) => void = () => {};
  const reported = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  // Reports that nobody waits for any more must not surface as unhandled rejections.
  reported.catch(() => {});
  const opened = new URL(url);
  const redirect = new URL(redirectUri);
  const page: SignInPage = Object.freeze({
    signal: AbortSignal.any([signal, ended.signal]),
    reportError(detail?: SignInPageError) {
      if (settled || ended.signal.aborted) return;
      settled = true;
      const raw = detail?.status;
      const status =
        typeof raw === 'number' && Number.isInteger(raw) && raw >= 100 && raw <= 599
          ? raw
          : undefined;
      const message = safeMessage(detail?.message, opened);
      const what = [status === undefined ? '' : `HTTP ${status}`, message ?? '']
        .filter((part) => part !== '')
        .join(', ');
      fail(
        new LatchkeyError(
          'SIGN_IN_PAGE_ERROR',
          `The sign-in page at ${opened.origin} reported an error${what ? ` (${what})` : ''} instead of returning to the application. Check the provider's clientId (it must name a client registered at this authorization server) and that the redirect URIs registered for the client allow ${redirect.origin}${redirect.pathname} (Latchkey's loopback redirect), then sign in again.`,
        ),
      );
    },
  });
  return {
    page,
    reported,
    settle: () => {
      settled = true;
    },
    end: () => ended.abort(),
  };
}

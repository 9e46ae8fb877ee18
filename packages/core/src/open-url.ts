import { LatchkeyError } from './errors.js';

/** Opens a URL for the user; hosts pass their own (for example Electron's `shell.openExternal`). */
export type OpenUrl = (url: string) => Promise<void> | void;

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
export function signInOpener(openUrl: OpenUrl | undefined): (url: string) => Promise<void> {
  const open = openUrl ?? openSystemBrowser;
  return async (url) => {
    try {
      await open(url);
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

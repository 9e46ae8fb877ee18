import { spawn } from 'node:child_process';
import { type OpenUrl, openSystemBrowser } from '@latchkey/core';
import type { Reporter } from './report.js';

/** Whether a browser window can be shown here: a desktop, or a display on Linux. */
export function hasDisplay(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/**
 * Runs one `BROWSER` entry with the URL, the way other command-line tools read the
 * variable: `%s` in the command is replaced by the URL, else the URL is the last
 * argument. The URL reaches the shell as a positional parameter, never as code.
 */
function runBrowserCommand(command: string, url: string): Promise<void> {
  const script = command.includes('%s') ? command.split('%s').join('"$1"') : `${command} "$1"`;
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script, 'latchkey-browser', url], {
      stdio: 'ignore',
      detached: false,
    });
    child.once('error', reject);
    // A browser keeps running; a command that fails does so at once.
    const timer = setTimeout(() => {
      child.unref();
      resolve();
    }, 1500);
    timer.unref();
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} exited with code ${code}`));
    });
  });
}

/**
 * How the CLI shows a sign-in page: the URL always goes to stderr (so it can be copied),
 * then `BROWSER` (a `:`-separated list of commands, the first that works is used), else
 * the system's opener when there is a display. Without either, the user opens the URL.
 */
export function cliOpener(reporter: Reporter, env: NodeJS.ProcessEnv = process.env): OpenUrl {
  return async (url) => {
    reporter.line(`Open this page to sign in: ${url}`);
    const browsers = (env.BROWSER ?? '')
      .split(process.platform === 'win32' ? ';' : ':')
      .filter((b) => b.trim() !== '');
    for (const command of browsers) {
      try {
        await runBrowserCommand(command, url);
        return;
      } catch (error) {
        reporter.line(
          `latchkey: BROWSER entry "${command}" failed (${error instanceof Error ? error.message : String(error)})`,
        );
      }
    }
    if (browsers.length === 0 && hasDisplay(env)) {
      try {
        await openSystemBrowser(url);
        return;
      } catch {
        reporter.line('latchkey: no browser could be opened; open the page above yourself.');
        return;
      }
    }
    if (browsers.length === 0)
      reporter.line('No display here: open the page above in a browser on this machine.');
  };
}

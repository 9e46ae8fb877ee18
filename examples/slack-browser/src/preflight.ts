// What a real Slack browser sign-in needs on this machine: a Chrome, Chromium, Edge or
// Brave, and a desktop to show its window on (the user logs in by hand).
import { findBrowser } from '@latchkey/browser-extract';
import { isLatchkeyError } from '@latchkey/core';

/** What is missing for a real sign-in, as sentences for the user; empty when nothing is. */
export function missingForSignIn(): string[] {
  const missing: string[] = [];
  try {
    findBrowser();
  } catch (error) {
    if (!isLatchkeyError(error, 'BROWSER_NOT_FOUND')) throw error;
    missing.push(`A browser: ${error.message}`);
  }
  const desktop =
    process.platform === 'darwin' ||
    process.platform === 'win32' ||
    Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  if (!desktop) {
    missing.push(
      'A desktop: the Slack sign-in window must be shown to you (no DISPLAY or WAYLAND_DISPLAY is set). Run this on your own computer, or over a remote desktop.',
    );
  }
  return missing;
}

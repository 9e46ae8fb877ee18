import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Prefix of temporary profile directories, in the system's temporary folder. */
export const TEMPORARY_PROFILE_PREFIX = 'latchkey-profile-';

/** Where to find a persistent browser profile. */
export interface BrowserProfileOptions {
  /** The provider id. */
  providerId: string;
  /** The account; `default` when none is known. */
  account?: string;
  /** The folder that holds the profiles. Default: `latchkey/browser-profiles` in the user's data directory. */
  profilesDirectory?: string;
}

/**
 * The user's data directory: `$XDG_DATA_HOME` or `~/.local/share` on Linux,
 * `~/Library/Application Support` on macOS, `%LOCALAPPDATA%` on Windows.
 */
export function userDataDirectory(): string {
  if (process.platform === 'win32') {
    return process.env.LOCALAPPDATA || join(homedir(), 'AppData', 'Local');
  }
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support');
  const xdg = process.env.XDG_DATA_HOME;
  return xdg?.startsWith('/') ? xdg : join(homedir(), '.local', 'share');
}

/** A file-name-safe form of an id or account name (never `.` or `..`, no separators). */
function segment(name: string): string {
  return encodeURIComponent(name)
    .replace(/[*!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/^\./, '%2E');
}

/** The folder of a provider's and account's persistent browser profile. */
export function browserProfilePath(options: BrowserProfileOptions): string {
  const base =
    options.profilesDirectory ?? join(userDataDirectory(), 'latchkey', 'browser-profiles');
  return join(base, segment(options.providerId), segment(options.account ?? 'default'));
}

/** Creates a persistent profile folder (and its parents) readable by the user only (0700). */
export async function preparePersistentProfile(options: BrowserProfileOptions): Promise<string> {
  const path = browserProfilePath(options);
  await mkdir(path, { recursive: true, mode: 0o700 });
  // mkdir's mode applies only to folders it creates, and only through the umask.
  await chmod(path, 0o700);
  await chmod(join(path, '..'), 0o700);
  return path;
}

/** Creates a fresh temporary profile folder (0700). */
export function createTemporaryProfile(): Promise<string> {
  return mkdtemp(join(tmpdir(), TEMPORARY_PROFILE_PREFIX));
}

/** Deletes a folder, retrying while a browser that just exited releases its files. */
export async function removeProfile(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/**
 * Deletes a persistent browser profile (its cookies and storage), for example after
 * `session.logout()`, so that the next sign-in starts logged out.
 */
export async function removeBrowserProfile(options: BrowserProfileOptions): Promise<void> {
  await removeProfile(browserProfilePath(options));
}

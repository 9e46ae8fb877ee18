import { isLoopbackHost } from '../../util/url.js';

const HOST_PATTERN =
  /^(\*\.)?([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/;

/** Why a host pattern is invalid, or `undefined` when it is valid. */
export function hostPatternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return 'must be a host name string';
  const match = HOST_PATTERN.exec(pattern);
  if (!match) {
    return 'must be a lower-case host name, optionally starting with "*." and ending with ":port" (no scheme, no path)';
  }
  const port = match[3];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    return 'has a port outside 1 to 65535';
  }
  return undefined;
}

/** The host pattern that allows exactly the host (and non-default port) of `url`. */
export function hostPatternOf(url: string): string {
  return new URL(url).host;
}

function portOf(url: URL): string {
  if (url.port !== '') return url.port;
  return url.protocol === 'http:' ? '80' : '443';
}

function hostMatches(pattern: string, url: URL): boolean {
  const match = HOST_PATTERN.exec(pattern);
  if (!match) return false;
  const [, wildcard, host, port] = match;
  if (port !== undefined && port !== portOf(url)) return false;
  const hostname = url.hostname.toLowerCase();
  if (wildcard) return hostname.endsWith(`.${host}`);
  return hostname === host;
}

/**
 * Whether a top-level navigation to `url` may go ahead: `about:blank`, or https to an
 * allowed host, or plain http to an allowed loopback host. A pattern is a host name
 * (`slack.com`, any port), a host and port (`127.0.0.1:8080`), or `*.` and a domain for
 * every host under it (`*.slack.com`, not `slack.com` itself).
 */
export function navigationAllowed(url: string, allowedHosts: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.href === 'about:blank') return true;
  if (parsed.username !== '' || parsed.password !== '') return false;
  if (parsed.protocol === 'http:') {
    if (!isLoopbackHost(parsed.hostname)) return false;
  } else if (parsed.protocol !== 'https:') {
    return false;
  }
  return allowedHosts.some((pattern) => hostMatches(pattern, parsed));
}

/** The origin of `url` for events and messages (never its path or query, which may carry secrets). */
export function originOf(url: string): string {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? new URL(url).protocol : origin;
  } catch {
    return 'an invalid address';
  }
}

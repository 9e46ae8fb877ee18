/** Whether `hostname` is a loopback host: `localhost`, 127.0.0.0/8 or `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Whether `url` is a loopback redirect URI as native apps use one (RFC 8252 §7.3):
 * plain http to `127.0.0.1`, `[::1]` or `localhost`.
 */
export function isLoopbackRedirect(url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
}

/** Parses `value` as an absolute URL, or returns `undefined`. */
export function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/**
 * Why `value` may not be used as a protocol endpoint, or `undefined` when it may:
 * it must be an absolute `https:` URL, or `http:` on a loopback host (when allowed),
 * without a fragment.
 */
export function endpointProblem(value: string, allowHttpLoopback = true): string | undefined {
  const url = parseUrl(value);
  if (!url) return 'is not an absolute URL';
  if (url.hash) return 'must not contain a fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname))
      return 'uses plain http on a host that is not loopback; use https';
    return allowHttpLoopback
      ? undefined
      : 'uses plain http; it is allowed on loopback hosts only with the development switch';
  }
  return `uses the unsupported scheme ${url.protocol}`;
}

/** Whether requests to `value` need oauth4webapi's permission for plain http (loopback only). */
export function isInsecureLoopback(value: string): boolean {
  const url = parseUrl(value);
  return url !== undefined && url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

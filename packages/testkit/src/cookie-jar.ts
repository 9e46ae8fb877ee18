interface StoredCookie {
  name: string;
  value: string;
  path: string;
  expiresAt: number;
}

/** Most cookies kept per host, so a misbehaving server cannot grow the jar without bound. */
const MAX_COOKIES_PER_HOST = 50;

function defaultPath(url: URL): string {
  const { pathname } = url;
  const slash = pathname.lastIndexOf('/');
  return slash <= 0 ? '/' : pathname.slice(0, slash);
}

function pathMatches(cookiePath: string, requestPath: string): boolean {
  if (requestPath === cookiePath) {
    return true;
  }
  if (!requestPath.startsWith(cookiePath)) {
    return false;
  }
  return cookiePath.endsWith('/') || requestPath.charAt(cookiePath.length) === '/';
}

function parseSetCookie(header: string, url: URL, now: number): StoredCookie | undefined {
  const [pair = '', ...attributes] = header.split(';');
  const equals = pair.indexOf('=');
  if (equals <= 0) {
    return undefined;
  }
  const cookie: StoredCookie = {
    name: pair.slice(0, equals).trim(),
    value: pair.slice(equals + 1).trim(),
    path: defaultPath(url),
    expiresAt: Number.POSITIVE_INFINITY,
  };
  let maxAgeSeen = false;
  for (const attribute of attributes) {
    const [rawKey = '', ...rest] = attribute.split('=');
    const key = rawKey.trim().toLowerCase();
    const value = rest.join('=').trim();
    if (key === 'path' && value.startsWith('/')) {
      cookie.path = value;
    } else if (key === 'max-age' && /^-?\d+$/.test(value)) {
      maxAgeSeen = true;
      cookie.expiresAt = now + Number(value) * 1000;
    } else if (key === 'expires' && !maxAgeSeen) {
      const time = Date.parse(value);
      if (!Number.isNaN(time)) {
        cookie.expiresAt = time;
      }
    }
  }
  return cookie;
}

/** A small host-only cookie jar (keyed by host:port, path aware) for the unattended user agent. */
export class CookieJar {
  readonly #hosts = new Map<string, Map<string, StoredCookie>>();

  /** Stores the cookies from a response's Set-Cookie headers. */
  store(url: URL, setCookieHeaders: readonly string[]): void {
    const now = Date.now();
    const cookies = this.#hosts.get(url.host) ?? new Map<string, StoredCookie>();
    for (const header of setCookieHeaders) {
      const cookie = parseSetCookie(header, url, now);
      if (!cookie) {
        continue;
      }
      const key = `${cookie.name};${cookie.path}`;
      if (cookie.expiresAt <= now) {
        cookies.delete(key);
      } else if (cookies.has(key) || cookies.size < MAX_COOKIES_PER_HOST) {
        cookies.set(key, cookie);
      }
    }
    this.#hosts.set(url.host, cookies);
  }

  /** The Cookie header value for a request to `url`, or undefined when none apply. */
  header(url: URL): string | undefined {
    const cookies = this.#hosts.get(url.host);
    if (!cookies) {
      return undefined;
    }
    const now = Date.now();
    const matching = [...cookies.values()]
      .filter((cookie) => cookie.expiresAt > now && pathMatches(cookie.path, url.pathname))
      .sort((a, b) => b.path.length - a.path.length);
    if (matching.length === 0) {
      return undefined;
    }
    return matching.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }
}

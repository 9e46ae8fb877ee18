// The unattended user of benchmark 7's children, the same for both: it follows the
// authorization URL from redirect to redirect, keeping cookies. With `redirectUri` it stops
// at the redirect there and returns its `code` (the SDK leaves receiving it to the app);
// without, it also fetches the last page (Latchkey's loopback listener). Node built-ins only,
// so it adds nothing to what either side loads.

/**
 * @param {string} url
 * @param {string} [redirectUri]
 * @returns {Promise<string | undefined>}
 */
export async function unattendedUser(url, redirectUri) {
  const cookies = new Map();
  let target = new URL(url);
  for (let hop = 0; hop < 20; hop += 1) {
    if (target.hostname !== '127.0.0.1') throw new Error(`refusing to fetch ${target.origin}`);
    const cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(target, {
      redirect: 'manual',
      headers: cookie ? { cookie } : {},
      signal: AbortSignal.timeout(10_000),
    });
    for (const header of response.headers.getSetCookie()) {
      const pair = header.split(';')[0] ?? '';
      const name = pair.slice(0, pair.indexOf('=')).trim();
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      if (value === '' || /;\s*expires=Thu, 01 Jan 1970/i.test(header)) cookies.delete(name);
      else cookies.set(name, value);
    }
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      if (redirectUri === undefined && response.ok) return undefined;
      throw new Error(`the authorization stopped at ${target.pathname} with ${response.status}`);
    }
    const next = new URL(location, target);
    if (redirectUri !== undefined && `${next.origin}${next.pathname}` === redirectUri) {
      const code = next.searchParams.get('code');
      if (!code) throw new Error(`no code in the redirect: ${next.search}`);
      return code;
    }
    target = next;
  }
  throw new Error('too many redirects');
}

/** Prints the child's one JSON line, or the error, and sets the exit code. */
export async function report(run) {
  try {
    process.stdout.write(`${JSON.stringify(await run())}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
    process.exitCode = 1;
  }
}

/** Lets in-flight requests of the unattended user finish before the client closes. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

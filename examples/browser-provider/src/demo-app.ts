// A small local copy of the Acme Chat web app, so the example runs without an account:
// a login form; an HttpOnly session cookie; a single-page client that moves to its
// workspace route and stores the API token in localStorage; and `/api/me`.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running demo app. */
export interface DemoApp {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  close(): Promise<void>;
}

const page = (body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>Acme Chat</title></head><body>${body}</body></html>`;

function cookie(req: IncomingMessage): string | undefined {
  return /(?:^|;\s*)acme_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
}

/** Starts the demo app on 127.0.0.1 and a free port. Any email and password sign in. */
export async function startDemoApp(): Promise<DemoApp> {
  const sessions = new Map<string, { token: string; user: string }>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const session = sessions.get(cookie(req) ?? '');
    const send = (status: number, headers: Record<string, string>, body = '') => {
      res.writeHead(status, { 'cache-control': 'no-store', ...headers });
      res.end(body);
    };
    if (url.pathname === '/login' && req.method === 'POST') {
      let form = '';
      req.on('data', (chunk: Buffer) => {
        form += chunk.toString();
      });
      req.on('end', () => {
        const user = new URLSearchParams(form).get('email') || 'someone@example.com';
        const id = randomBytes(16).toString('hex');
        sessions.set(id, { token: `acme_${randomBytes(16).toString('hex')}`, user });
        send(303, { location: '/app', 'set-cookie': `acme_session=${id}; Path=/; HttpOnly` });
      });
      return;
    }
    if (url.pathname === '/login') {
      return send(
        200,
        { 'content-type': 'text/html' },
        page(`<h1>Sign in to Acme Chat</h1><form method="post" action="/login">
<input id="email" name="email" type="email" placeholder="Email">
<input id="password" name="password" type="password" placeholder="Password">
<button id="submit">Sign in</button></form>`),
      );
    }
    if (url.pathname === '/app' && session) {
      const auth = { workspaces: { W0DEMO: { name: 'Demo workspace', apiToken: session.token } } };
      return send(
        200,
        { 'content-type': 'text/html' },
        page(`<p>Welcome to the Demo workspace.</p><script>
history.pushState({}, '', '/w/W0DEMO');
setTimeout(() => localStorage.setItem('acme.auth', ${JSON.stringify(JSON.stringify(auth))}), 500);
</script>`),
      );
    }
    if (url.pathname === '/api/me' && req.method === 'POST') {
      const ok = session && req.headers.authorization === `Bearer ${session.token}`;
      return ok
        ? send(
            200,
            { 'content-type': 'application/json' },
            JSON.stringify({ workspace: 'W0DEMO', user: session.user }),
          )
        : send(401, { 'content-type': 'application/json' }, '{"error":"not_authed"}');
    }
    return send(302, { location: '/login' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

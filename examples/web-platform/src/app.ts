// The platform: a multi-user web app on Node's http module. People sign in to the app
// with a name (a stand-in for the app's real accounts), connect accounts at providers
// through the app's own callback, see the accounts they connected, and run an MCP server
// with one of them. Every login is kept in one shared store, under the app's user id.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AuthProvider,
  accounts,
  authenticate,
  type CredentialStore,
  finishSignIn,
  forget,
  isLatchkeyError,
  type McpServerSpec,
  startSignIn,
  userStore,
} from '@latchkey/core';
import { launchServer } from '@latchkey/core/sdk-v1';
import { type AccountRow, errorPage, homePage, signInPage, toolPage } from './pages.js';

/** A provider users can connect, the MCP server run with it, and the tool the page calls. */
export interface Connection {
  readonly provider: AuthProvider;
  readonly server: McpServerSpec;
  readonly tool: string;
}

/** Options of {@link createPlatform}. */
export interface PlatformOptions {
  /** The store shared by every instance of the app. */
  readonly store: CredentialStore;
  readonly connections: readonly Connection[];
  /** Where browsers reach the app, e.g. `https://platform.example.com`; the callbacks are below it. */
  readonly publicUrl: string;
  /** Signs the app's session cookie; every instance needs the same one. */
  readonly sessionSecret: Uint8Array;
}

const COOKIE = 'platform_user';
const MAX_FORM_BYTES = 4096;

/** The request handler of the platform, for `http.createServer()`. */
export function createPlatform(options: PlatformOptions) {
  const { store, connections } = options;
  const byId = new Map(connections.map((c) => [c.provider.id, c]));
  const base = new URL(options.publicUrl);
  const callbackFor = (id: string) => new URL(`/callback/${encodeURIComponent(id)}`, base).href;

  const sign = (user: string) =>
    createHmac('sha256', options.sessionSecret).update(user).digest('base64url');
  const cookieFor = (user: string) => `${Buffer.from(user).toString('base64url')}.${sign(user)}`;
  const userOf = (req: IncomingMessage): string | undefined => {
    const value = parseCookies(req.headers.cookie)[COOKIE];
    const [name, mac] = value?.split('.') ?? [];
    if (!name || !mac) return undefined;
    const user = Buffer.from(name, 'base64url').toString('utf8');
    const expected = Buffer.from(sign(user));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given) ? user : undefined;
  };

  const rows = async (user: string): Promise<AccountRow[]> => {
    const mine = userStore(store, user);
    const result: AccountRow[] = [];
    for (const { provider } of connections) {
      for (const account of await accounts(provider, { store: mine })) {
        result.push({
          providerId: provider.id,
          providerName: provider.name,
          account: account.account,
        });
      }
    }
    return result;
  };

  const routes = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', base);
    const [, route, id] = url.pathname.split('/').map(decodeURIComponent);
    const user = userOf(req);
    const connection = id === undefined ? undefined : byId.get(id);

    if (req.method === 'POST' && route === 'login') {
      const name = (await readForm(req)).get('user')?.trim() ?? '';
      if (!/^[\w.@-]{1,64}$/.test(name)) {
        return send(
          res,
          400,
          errorPage('INVALID_NAME', 'Use 1 to 64 letters, digits, dots, dashes or @.'),
        );
      }
      res.setHeader('set-cookie', `${COOKIE}=${cookieFor(name)}; Path=/; HttpOnly; SameSite=Lax`);
      return redirect(res, '/');
    }
    if (req.method === 'POST' && route === 'logout') {
      res.setHeader('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
      return redirect(res, '/');
    }
    if (req.method === 'GET' && url.pathname === '/') {
      if (!user) return send(res, 200, signInPage());
      const notice = url.searchParams.get('connected');
      return send(
        res,
        200,
        homePage(
          user,
          connections.map((c) => c.provider),
          await rows(user),
          notice,
        ),
      );
    }
    if (!user) return redirect(res, '/');
    if (!connection) return send(res, 404, errorPage('NOT_FOUND', 'There is no such page.'));
    const { provider } = connection;

    if (req.method === 'POST' && route === 'connect') {
      const { url: authorizationUrl } = await startSignIn(provider, {
        store,
        user,
        redirectUri: callbackFor(provider.id),
      });
      return redirect(res, authorizationUrl);
    }
    if (req.method === 'GET' && route === 'callback') {
      const session = await finishSignIn(provider, { store, user, callbackUrl: url });
      return redirect(
        res,
        `/?connected=${encodeURIComponent(`${provider.name}: ${session.account}`)}`,
      );
    }
    if (req.method === 'POST' && route === 'disconnect') {
      const account = (await readForm(req)).get('account') ?? '';
      await forget(provider, account, { store: userStore(store, user) });
      return redirect(res, '/');
    }
    if (req.method === 'POST' && route === 'run') {
      const account = (await readForm(req)).get('account') ?? undefined;
      const session = await authenticate(provider, {
        store: userStore(store, user),
        ...(account ? { account } : {}),
        interactive: false,
      });
      const server = await launchServer(connection.server, session);
      try {
        const result = await server.client.callTool({ name: connection.tool, arguments: {} });
        const content = (result.content ?? []) as { type: string; text?: string }[];
        return send(
          res,
          200,
          toolPage(
            provider.name,
            session.account,
            connection.tool,
            content.map((c) => c.text ?? '').join('\n'),
          ),
        );
      } finally {
        await server.close();
      }
    }
    return send(res, 404, errorPage('NOT_FOUND', 'There is no such page.'));
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await routes(req, res);
    } catch (error) {
      // Latchkey's messages say what to do and carry no secret; anything else stays in the log.
      if (isLatchkeyError(error)) {
        send(
          res,
          error.code === 'LOGIN_REQUIRED' ? 401 : 400,
          errorPage(error.code, error.message),
        );
      } else {
        console.error(error);
        send(res, 500, errorPage('INTERNAL', 'Something went wrong.'));
      }
    }
  };
}

/** A random secret for the session cookie, for a single run. */
export function randomSessionSecret(): Uint8Array {
  return randomBytes(32);
}

function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of header?.split(';') ?? []) {
    const at = part.indexOf('=');
    if (at > 0) cookies[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return cookies;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > MAX_FORM_BYTES) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function send(res: ServerResponse, status: number, html: string): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action *",
  });
  res.end(html);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store' });
  res.end();
}

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LatchkeyError } from '../../errors.js';
import type { SignInEvent } from '../events.js';

type RejectReason = Extract<SignInEvent, { type: 'callback_rejected' }>['reason'];

/** Options of {@link startLoopbackListener}. */
export interface LoopbackListenerOptions {
  /** Port to listen on; `0` picks a free one. */
  port?: number;
  /** Callback path, default `/callback`. */
  path?: string;
  /** The `state` a callback must carry to be accepted. */
  state: string;
  /** Told about every request that was turned away. */
  onRejected?: (reason: RejectReason) => void;
}

/** A callback accepted by the listener. The browser waits for `respond`. */
export interface AcceptedCallback {
  /** The full callback URL. */
  readonly url: URL;
  /** Answers the browser with a short page saying whether sign-in worked. */
  respond(outcome: { ok: true } | { ok: false; message: string }): void;
}

/** A running loopback redirect listener (RFC 8252 §7.3). */
export interface LoopbackListener {
  /** The redirect URI to register in the authorization request. */
  readonly redirectUri: string;
  /** Resolves with the first callback whose `state` matches. */
  readonly callback: Promise<AcceptedCallback>;
  /** Stops listening and drops every connection. Safe to call twice. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const MAX_URL_LENGTH = 8192;

function page(title: string, text: string): string {
  const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>body{font:16px system-ui,sans-serif;margin:4rem auto;max-width:32rem;color:#222}</style></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
}

function send(res: ServerResponse, status: number, title: string, text: string): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    connection: 'close',
  });
  res.end(page(title, text));
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Starts an HTTP listener on 127.0.0.1 for the authorization response. It accepts one
 * callback: a `GET` on the exact path, with the exact `Host` (which defeats DNS
 * rebinding), carrying the expected `state`. Anything else is answered with an error
 * page and ignored, so a forged request cannot end the flow.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3 Loopback Interface Redirection
 */
export async function startLoopbackListener(
  options: LoopbackListenerOptions,
): Promise<LoopbackListener> {
  const path = options.path ?? '/callback';
  let expectedHost = '';
  let accepted = false;
  let resolveCallback!: (value: AcceptedCallback) => void;
  const callback = new Promise<AcceptedCallback>((resolve) => {
    resolveCallback = resolve;
  });
  const pending = new Set<ServerResponse>();

  const reject = (res: ServerResponse, reason: RejectReason, status: number, text: string) => {
    options.onRejected?.(reason);
    send(res, status, 'Sign-in request ignored', text);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > MAX_URL_LENGTH) {
      reject(res, 'TOO_LARGE', 414, 'The request was too large.');
      return;
    }
    if (req.headers.host !== expectedHost) {
      reject(res, 'WRONG_HOST', 400, 'This address only accepts requests for itself.');
      return;
    }
    let url: URL;
    try {
      url = new URL(rawUrl, `http://${expectedHost}`);
    } catch {
      reject(res, 'WRONG_PATH', 400, 'Malformed request.');
      return;
    }
    if (url.pathname !== path) {
      reject(res, 'WRONG_PATH', 404, 'Nothing here.');
      return;
    }
    if (req.method !== 'GET') {
      reject(res, 'WRONG_METHOD', 405, 'Only the browser redirect is accepted here.');
      return;
    }
    const states = url.searchParams.getAll('state');
    if (states.length !== 1 || !sameString(states[0] ?? '', options.state)) {
      reject(
        res,
        'STATE_MISMATCH',
        400,
        'This response does not belong to the sign-in in progress.',
      );
      return;
    }
    if (accepted) {
      reject(
        res,
        'ALREADY_COMPLETED',
        409,
        'This sign-in was already completed. You can close this window.',
      );
      return;
    }
    accepted = true;
    pending.add(res);
    let answered = false;
    resolveCallback({
      url,
      respond(outcome) {
        if (answered) return;
        answered = true;
        pending.delete(res);
        if (outcome.ok) {
          send(
            res,
            200,
            'Signed in',
            'You are signed in. You can close this window and return to the application.',
          );
        } else {
          send(res, 400, 'Sign-in failed', outcome.message);
        }
      },
    });
  };

  const server = createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16_384 },
    (req, res) => {
      try {
        handle(req, res);
      } catch {
        send(res, 500, 'Error', 'The request could not be handled.');
      }
    },
  );
  server.keepAliveTimeout = 1;
  // Malformed or oversized requests never reach the handler; answer them and carry on.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    options.onRejected?.(tooLarge ? 'TOO_LARGE' : 'WRONG_PATH');
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(
      tooLarge
        ? 'HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\r\n'
        : 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n',
    );
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const port = options.port ?? 0;
      reject(
        new LatchkeyError(
          'CALLBACK_LISTENER_FAILED',
          error.code === 'EADDRINUSE'
            ? `Port ${port} on ${HOST} is in use, so the sign-in callback cannot be received. Close the program using it, or let the provider pick a free port.`
            : `Could not listen on ${HOST}:${port} for the sign-in callback (${error.code ?? error.message}).`,
          { cause: error },
        ),
      );
    };
    server.once('error', onError);
    server.listen(options.port ?? 0, HOST, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  expectedHost = `${HOST}:${port}`;

  let closed: Promise<void> | undefined;
  return {
    redirectUri: `http://${expectedHost}${path}`,
    callback,
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const res of pending) {
          send(res, 400, 'Sign-in ended', 'The sign-in ended. Return to the application.');
        }
        pending.clear();
        // Let the last page flush; then drop whatever is still open.
        const force = setTimeout(() => server.closeAllConnections(), 500);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}

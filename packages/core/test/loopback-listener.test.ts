import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { isLatchkeyError } from '../src/index.js';
import { type LoopbackListener, startLoopbackListener } from '../src/oauth.js';

interface Reply {
  status: number;
  body: string;
}

/** A raw HTTP request, so Host and path can be anything a hostile page could send. */
function send(
  port: number,
  path: string,
  options: { host?: string; method?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: { host: options.host ?? `127.0.0.1:${port}` },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const STATE = 'expected-state-abc123';
let listener: LoopbackListener | undefined;

afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

function portOf(l: LoopbackListener): number {
  return Number(new URL(l.redirectUri).port);
}

describe('loopback listener', () => {
  it('binds 127.0.0.1 on a free port with the configured path', async () => {
    listener = await startLoopbackListener({ state: STATE, path: '/cb' });
    const url = new URL(listener.redirectUri);
    expect(url.hostname).toBe('127.0.0.1');
    expect(Number(url.port)).toBeGreaterThan(0);
    expect(url.pathname).toBe('/cb');
  });

  it('ignores forged and malformed requests, then accepts the real callback once', async () => {
    const rejected: string[] = [];
    listener = await startLoopbackListener({ state: STATE, onRejected: (r) => rejected.push(r) });
    const port = portOf(listener);
    let settled = false;
    void listener.callback.then(() => {
      settled = true;
    });

    expect((await send(port, `/callback?code=x&state=wrong`)).status).toBe(400);
    expect((await send(port, `/callback?code=x`)).status).toBe(400);
    expect((await send(port, `/callback?code=x&state=${STATE}&state=${STATE}`)).status).toBe(400);
    expect((await send(port, `/other?code=x&state=${STATE}`)).status).toBe(404);
    expect(
      (await send(port, `/callback?code=x&state=${STATE}`, { host: 'evil.example:80' })).status,
    ).toBe(400);
    expect((await send(port, `/callback?code=x&state=${STATE}`, { method: 'POST' })).status).toBe(
      405,
    );
    expect((await send(port, `/callback?code=${'x'.repeat(9000)}&state=${STATE}`)).status).toBe(
      414,
    );
    expect((await send(port, `/callback?junk=${'y'.repeat(20000)}`)).status).toBe(431);
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    expect(rejected).toEqual([
      'STATE_MISMATCH',
      'STATE_MISMATCH',
      'STATE_MISMATCH',
      'WRONG_PATH',
      'WRONG_HOST',
      'WRONG_METHOD',
      'TOO_LARGE',
      'TOO_LARGE',
    ]);

    const reply = send(port, `/callback?code=real&state=${STATE}`);
    const accepted = await listener.callback;
    expect(accepted.url.searchParams.get('code')).toBe('real');
    // A second valid-looking callback while the first is being processed is turned away.
    expect((await send(port, `/callback?code=again&state=${STATE}`)).status).toBe(409);
    accepted.respond({ ok: true });
    const page = await reply;
    expect(page.status).toBe(200);
    expect(page.body).toContain('You are signed in');
  });

  it('escapes the failure message in the page it shows', async () => {
    listener = await startLoopbackListener({ state: STATE });
    const reply = send(portOf(listener), `/callback?error=x&state=${STATE}`);
    const accepted = await listener.callback;
    accepted.respond({ ok: false, message: '<script>alert(1)</script>' });
    const page = await reply;
    expect(page.status).toBe(400);
    expect(page.body).not.toContain('<script>');
    expect(page.body).toContain('&#60;script&#62;');
  });

  it('fails with CALLBACK_LISTENER_FAILED when a fixed port is taken', async () => {
    listener = await startLoopbackListener({ state: STATE });
    const error = await startLoopbackListener({ state: STATE, port: portOf(listener) }).catch(
      (e: unknown) => e,
    );
    expect(isLatchkeyError(error, 'CALLBACK_LISTENER_FAILED')).toBe(true);
    expect((error as Error).message).toContain('in use');
  });

  it('stops listening on close, also with a browser still waiting', async () => {
    listener = await startLoopbackListener({ state: STATE });
    const port = portOf(listener);
    const reply = send(port, `/callback?code=x&state=${STATE}`);
    await listener.callback;
    await listener.close();
    expect((await reply).status).toBe(400);
    await expect(send(port, '/callback')).rejects.toThrow();
  });
});

// The relay's restarts and cancellations where timing decides: in-process servers that
// answer (or crash) exactly when a test says, so a race happens every time.
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../src/json-rpc.js';
import { type Relay, type RelayedServer, startRelay } from '../src/stdio-relay.js';
import { INITIALIZE } from './helpers.js';

interface FakeServer extends RelayedServer {
  readonly n: number;
  readonly received: Message[];
  dead(): boolean;
  crash(): void;
}

/** A server that answers initialize after `initMs`, `slow` never, everything else at once. */
function fakeServer(n: number, deliver: (m: Message) => void, initMs: number): FakeServer {
  let exit: (code: number) => void = () => {};
  const exited = new Promise<number | string>((resolve) => {
    exit = resolve;
  });
  let dead = false;
  const received: Message[] = [];
  const crash = () => {
    if (dead) return;
    dead = true;
    exit(9);
  };
  return {
    n,
    received,
    dead: () => dead,
    crash,
    dispose: async () => {},
    process: {
      generation: n,
      pid: 1000 + n,
      exited,
      lastStderr: () => [],
      async stop() {
        crash();
        await exited;
      },
      send(m) {
        if (dead) return false;
        received.push(m);
        const answer = (result: unknown) => deliver({ jsonrpc: '2.0', id: m.id as string, result });
        if (m.method === 'initialize') {
          setTimeout(() => {
            if (!dead)
              answer({
                protocolVersion: '2025-06-18',
                capabilities: {},
                serverInfo: { name: 'fake', version: '1' },
              });
          }, initMs);
        } else if (m.method === 'tools/list') answer({ tools: [] });
        else if (m.method && m.method !== 'slow' && m.id !== undefined) answer({ from: n });
        return true;
      },
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let relay: Relay | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

async function setUp(initMs: (n: number) => number) {
  const input = new PassThrough();
  const output = new PassThrough();
  const out: Message[] = [];
  let buffer = '';
  output.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf('\n'); i !== -1; i = buffer.indexOf('\n')) {
      out.push(JSON.parse(buffer.slice(0, i)) as Message);
      buffer = buffer.slice(i + 1);
    }
  });
  const servers: FakeServer[] = [];
  relay = await startRelay({
    input,
    output,
    start: async (n, deliver) => {
      const server = fakeServer(n, deliver, initMs(n));
      servers.push(server);
      return server;
    },
    say: () => {},
  });
  const send = (m: object) => input.write(`${JSON.stringify(m)}\n`);
  send(INITIALIZE);
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  await sleep(30);
  return { relay, servers, out, send, answer: (id: number) => out.find((m) => m.id === id) };
}

describe('the relay under races', () => {
  it('a crash while a restart for new credentials runs leaves one server, which gets what comes next', async () => {
    const { relay, servers, send, answer } = await setUp((n) => (n === 1 ? 0 : 300));
    const restarted = relay.restart();
    await sleep(50);
    (servers[0] as FakeServer).crash();
    await restarted;
    await sleep(400);
    const alive = servers.filter((s) => !s.dead());
    expect(alive).toHaveLength(1);
    send({ jsonrpc: '2.0', id: 5, method: 'slow' });
    await sleep(50);
    expect(alive[0]?.received.some((m) => m.id === 5)).toBe(true);
    // If that one crashes too, the call in flight is answered, not left hanging.
    alive[0]?.crash();
    await sleep(400);
    expect(answer(5)).toMatchObject({
      error: { code: -32001, data: { code: 'SERVER_RESTARTED' } },
    });
  });

  it('a request the host cancelled is neither sent again nor answered after a restart', async () => {
    const { relay, servers, send, out } = await setUp(() => 0);
    send({ jsonrpc: '2.0', id: 7, method: 'slow' });
    await sleep(20);
    send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 7, reason: 'no longer needed' },
    });
    await sleep(20);
    expect(servers[0]?.received.some((m) => m.method === 'notifications/cancelled')).toBe(true);
    expect(await relay.restart()).toBe(true);
    await sleep(100);
    // The old server has nothing left to finish, so it is stopped at once.
    expect(servers[0]?.dead()).toBe(true);
    expect(servers[1]?.received.some((m) => m.id === 7)).toBe(false);
    expect(out.some((m) => m.id === 7)).toBe(false);
  });

  it("a server's own cancellation reaches the host under the id the host knows", async () => {
    let deliverToRelay: ((m: Message) => void) | undefined;
    const input = new PassThrough();
    const output = new PassThrough();
    const lines: string[] = [];
    output.setEncoding('utf8').on('data', (d: string) => lines.push(...d.trim().split('\n')));
    relay = await startRelay({
      input,
      output,
      start: async (n, deliver) => {
        deliverToRelay = deliver;
        return fakeServer(n, deliver, 0);
      },
      say: () => {},
    });
    deliverToRelay?.({ jsonrpc: '2.0', id: 'ask-1', method: 'elicitation/create', params: {} });
    deliverToRelay?.({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 'ask-1' },
    });
    await sleep(20);
    const [request, cancel] = lines.map((l) => JSON.parse(l) as Message);
    expect(request).toMatchObject({ method: 'elicitation/create' });
    expect(request?.id).not.toBe('ask-1');
    expect(cancel).toMatchObject({
      method: 'notifications/cancelled',
      params: { requestId: request?.id },
    });
  });
});

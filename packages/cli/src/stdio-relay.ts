import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { LatchkeyError } from '@latchkey/core';
import {
  errorResponse,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  isNotification,
  isRequest,
  isResponse,
  lineSplitter,
  type Message,
  type MessageId,
  parseLine,
  type Request,
  serialize,
} from './json-rpc.js';
import type { ServerProcess } from './server-process.js';

/** Requests that read and change nothing: sent again to the new server after a restart. */
const REPLAYABLE = new Set([
  'ping',
  'tools/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'completion/complete',
]);

/** The error code of a request that was in flight when its server restarted. */
export const SERVER_RESTARTED_CODE = -32001;

/** How long a replaced server may take to answer what it was asked before the restart. */
const DRAIN_MS = 10_000;
const HANDSHAKE_MS = 30_000;
/** Crashes within CRASH_WINDOW_MS after which the relay stops restarting. */
const MAX_CRASHES = 3;
const CRASH_WINDOW_MS = 60_000;

export interface RelayOptions {
  input: Readable;
  output: Writable;
  /** Starts generation `n` of the server (new credentials each time); it hands its messages to `deliver`. */
  start(generation: number, deliver: (message: Message) => void): Promise<RelayedServer>;
  /** A line for people (stderr). */
  say(text: string): void;
  /** Told each time generation `n` becomes the one the host talks to (the first one too). */
  onSwitched?(generation: number): void;
  /** Hides secrets in text the server wrote that goes to people (errors, stderr). */
  mask?(text: string): string;
}

/** A started server and how to clean up after it. */
export interface RelayedServer {
  process: ServerProcess;
  /** Removes what was written for it (credential files). */
  dispose(): Promise<void>;
}

/** Why the relay ended. */
export type RelayEnd =
  | { reason: 'host-closed' }
  | { reason: 'stopped' }
  | { reason: 'server-failed'; error: LatchkeyError };

export interface Relay {
  /**
   * Starts a new server generation, hands it the host's handshake, and retires the old
   * one; false when the new one could not be started (the old one then stays).
   */
  restart(): Promise<boolean>;
  /** Stops everything. */
  stop(): Promise<void>;
  readonly ended: Promise<RelayEnd>;
}

interface Pending {
  message: Request;
  generation: number;
}

interface Generation {
  server: RelayedServer;
  n: number;
  retired: boolean;
  /** Settles once the process has exited and its files are removed. */
  cleaned?: Promise<void>;
}

const idKey = (id: MessageId | null | undefined) => JSON.stringify(id ?? null);

/**
 * Relays MCP messages between a host (stdin/stdout) and a server process, unchanged,
 * and replaces the server without the host noticing: the new one gets the host's
 * `initialize` and `notifications/initialized`, the subscriptions and log level the
 * host set, and new requests at once; the old one may finish what it was asked. What it
 * leaves unanswered is sent again where that is safe, else answered with an error.
 * The host gets `notifications/tools/list_changed` when the tools it listed changed.
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { output } = options;
  const mask = options.mask ?? ((text: string) => text);
  const say = (text: string) => options.say(mask(text));
  let endRelay: (end: RelayEnd) => void = () => {};
  const ended = new Promise<RelayEnd>((resolve) => {
    endRelay = resolve;
  });
  let finished = false;
  const pending = new Map<string, Pending>();
  // Server-to-host requests, by the id the host sees.
  const upstream = new Map<number, { generation: Generation; id: MessageId }>();
  let upstreamIds = 0;
  const internal = new Map<string, (message: Message) => void>();
  let internalIds = 0;
  const nonce = randomBytes(8).toString('hex');
  let initialize: Request | undefined;
  let initializedSent = false;
  let initializeAnswered = false;
  const subscriptions = new Map<string, Request>();
  let logLevel: Request | undefined;
  let listedTools: string | undefined;
  const listRequests = new Set<string>();
  let current: Generation | undefined;
  let switching: Promise<void> | undefined;
  /** Replacements run one after another, each on the outcome of the one before. */
  let replacing: Promise<unknown> = Promise.resolve();
  let lastGeneration = 0;
  const queued: Message[] = [];
  const crashes: number[] = [];
  const generations = new Set<Generation>();

  const toHost = (message: Message) => {
    if (!output.writableEnded) output.write(serialize(message));
  };

  const ask = (generation: Generation, method: string, params: unknown, timeoutMs: number) =>
    new Promise<Message>((resolve, reject) => {
      internalIds += 1;
      // A random part, so that no id a host picks can be taken for the relay's own.
      const id = `latchkey-${nonce}-${internalIds}`;
      const timer = setTimeout(() => {
        internal.delete(id);
        reject(new Error(`no answer to ${method} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      internal.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      void generation.server.process.exited.then(() => {
        if (internal.delete(id)) {
          clearTimeout(timer);
          reject(new Error(`the server exited before answering ${method}`));
        }
      });
      generation.server.process.send({
        jsonrpc: '2.0',
        id,
        method,
        ...(params !== undefined ? { params } : {}),
      });
    });

  const fromServer = (generation: Generation, message: Message) => {
    if (isResponse(message)) {
      const key = typeof message.id === 'string' ? message.id : undefined;
      const waiter = key !== undefined ? internal.get(key) : undefined;
      if (waiter && key !== undefined) {
        internal.delete(key);
        waiter(message);
        return;
      }
      const k = idKey(message.id);
      const asked = pending.get(k);
      if (!asked || asked.generation !== generation.n) return;
      pending.delete(k);
      if (asked.message.method === 'initialize') initializeAnswered = true;
      if (listRequests.delete(k) && message.result !== undefined) {
        listedTools = JSON.stringify((message.result as { tools?: unknown }).tools ?? null);
      }
      toHost(message);
      maybeRetire();
      return;
    }
    if (isRequest(message)) {
      upstreamIds += 1;
      upstream.set(upstreamIds, { generation, id: message.id });
      toHost({ ...message, id: upstreamIds });
      return;
    }
    if (message.method === 'notifications/cancelled') {
      // The server gave up a request of its own: the host knows it by the relay's id.
      const requestId = (message.params as { requestId?: MessageId } | undefined)?.requestId;
      for (const [id, asked] of upstream) {
        if (asked.generation === generation && asked.id === requestId) {
          upstream.delete(id);
          toHost({ ...message, params: { ...(message.params as object), requestId: id } });
          return;
        }
      }
      return;
    }
    // A notification: the old server's progress for what it still answers, too.
    toHost(message);
  };

  const route = (message: Message) => {
    if (!current || switching) {
      queued.push(message);
      return;
    }
    current.server.process.send(message);
  };

  const fromHost = (message: Message) => {
    if (isRequest(message)) {
      const k = idKey(message.id);
      if (pending.has(k)) {
        toHost(
          errorResponse(
            message.id,
            INVALID_REQUEST,
            `Invalid Request: the id ${k} is already in use by a request in flight`,
          ),
        );
        return;
      }
      if (message.method === 'initialize') initialize = message;
      if (
        message.method === 'tools/list' &&
        !(message.params as { cursor?: unknown } | undefined)?.cursor
      ) {
        listRequests.add(k);
      }
      if (message.method === 'resources/subscribe') {
        subscriptions.set(String((message.params as { uri?: unknown })?.uri), message);
      }
      if (message.method === 'resources/unsubscribe') {
        subscriptions.delete(String((message.params as { uri?: unknown })?.uri));
      }
      if (message.method === 'logging/setLevel') logLevel = message;
      pending.set(k, { message, generation: current?.n ?? 1 });
      if (current && !switching) current.server.process.send(message);
      else queued.push(message);
      return;
    }
    if (isNotification(message)) {
      if (message.method === 'notifications/initialized') initializedSent = true;
      if (message.method === 'notifications/cancelled') {
        const k = idKey((message.params as { requestId?: MessageId } | undefined)?.requestId);
        const asked = pending.get(k);
        if (asked) {
          // Cancelled: never answered, sent again or waited for after this.
          pending.delete(k);
          listRequests.delete(k);
          const waiting = queued.indexOf(asked.message);
          if (waiting !== -1) {
            queued.splice(waiting, 1);
            return;
          }
          const owner = [...generations].find((g) => g.n === asked.generation);
          owner?.server.process.send(message);
          return;
        }
      }
      route(message);
      return;
    }
    // A response to a server's request: back to the server that asked.
    const asked = typeof message.id === 'number' ? upstream.get(message.id) : undefined;
    if (!asked) return;
    upstream.delete(message.id as number);
    asked.generation.server.process.send({ ...message, id: asked.id });
  };

  options.input.on(
    'data',
    lineSplitter(
      (line) => {
        const parsed = parseLine(line);
        if (parsed.ok) fromHost(parsed.message);
        else {
          say(
            `latchkey: the host sent a line that is not a JSON-RPC message (${parsed.reason}); answered with error ${parsed.code}`,
          );
          toHost(errorResponse(parsed.id, parsed.code, parsed.reason));
        }
      },
      () => toHost(errorResponse(null, INVALID_REQUEST, 'Invalid Request: a line of over 64 MiB')),
    ),
  );
  options.input.on('end', () => void finish({ reason: 'host-closed' }));
  options.input.on('error', () => void finish({ reason: 'host-closed' }));

  const launch = async (): Promise<Generation> => {
    lastGeneration += 1;
    const n = lastGeneration;
    const early: Message[] = [];
    let generation: Generation | undefined;
    const server = await options.start(n, (message) => {
      if (generation) fromServer(generation, message);
      else early.push(message);
    });
    generation = { server, n, retired: false };
    generations.add(generation);
    for (const message of early) fromServer(generation, message);
    const started = generation;
    started.cleaned = server.process.exited.then(async (code) => {
      await server.dispose().catch(() => {});
      await onExit(started, code);
    });
    return generation;
  };

  /** Answers (or sends again) what `generation` left unanswered. */
  const settleLeftovers = (generation: Generation, why: string) => {
    for (const [k, asked] of pending) {
      if (asked.generation !== generation.n) continue;
      const target = current && current !== generation && !switching ? current : undefined;
      if (target && REPLAYABLE.has(asked.message.method)) {
        asked.generation = target.n;
        target.server.process.send(asked.message);
        continue;
      }
      pending.delete(k);
      listRequests.delete(k);
      toHost(
        errorResponse(
          asked.message.id,
          SERVER_RESTARTED_CODE,
          `The MCP server ${why} while this request was in flight; send it again.`,
          {
            code: 'SERVER_RESTARTED',
          },
        ),
      );
    }
    for (const [id, asked] of upstream) {
      if (asked.generation !== generation) continue;
      upstream.delete(id);
      toHost({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: id, reason: `The MCP server ${why}.` },
      });
    }
  };

  const onExit = async (generation: Generation, code: number | string) => {
    generations.delete(generation);
    // Ending: `finish` answers what is in flight, with the reason.
    if (finished) return;
    if (generation.retired) {
      settleLeftovers(generation, 'restarted with new credentials');
      return;
    }
    if (generation !== current) {
      // A new one that never took over (its handshake failed): nothing was sent to it.
      return;
    }
    const stderr = generation.server.process.lastStderr();
    if (!initializeAnswered) {
      // `finish` answers what is in flight with this error.
      void finish({
        reason: 'server-failed',
        error: new LatchkeyError(
          'SERVER_EXITED',
          `The MCP server exited during startup (${typeof code === 'number' ? `exit code ${code}` : code}).${stderr.length > 0 ? ` Its last output:\n${stderr.join('\n')}` : ' It wrote nothing to stderr.'}`,
        ),
      });
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && (crashes[0] as number) < now - CRASH_WINDOW_MS) crashes.shift();
    if (crashes.length > MAX_CRASHES) {
      void finish({
        reason: 'server-failed',
        error: new LatchkeyError(
          'SERVER_EXITED',
          `The MCP server exited ${crashes.length} times within a minute; latchkey stopped restarting it.${stderr.length > 0 ? ` Its last output:\n${stderr.join('\n')}` : ''}`,
        ),
      });
      return;
    }
    say(
      `latchkey: the MCP server exited (${typeof code === 'number' ? `exit code ${code}` : code}); starting it again`,
    );
    await replace(generation, 'exited');
  };

  /** Replaces `old` unless another replacement has already: one at a time. */
  const replace = (old: Generation, why: 'restarted with new credentials' | 'exited') => {
    const run = replacing.then(() => {
      if (finished) return false;
      if (current !== old) {
        // Replaced meanwhile, with credentials as fresh as these (each start takes the newest).
        if (why === 'exited') settleLeftovers(old, 'exited');
        return true;
      }
      return replaceNow(old, why);
    });
    replacing = run.catch(() => {});
    return run;
  };

  const handshake = async (generation: Generation) => {
    if (!initialize) return;
    const answer = await ask(generation, 'initialize', initialize.params, HANDSHAKE_MS);
    if (answer.error) throw new Error(`it refused the host's initialize: ${answer.error.message}`);
    if (initializedSent)
      generation.server.process.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    for (const request of [logLevel, ...subscriptions.values()]) {
      if (request)
        await ask(generation, request.method, request.params, HANDSHAKE_MS).catch(() => {});
    }
  };

  const toolsChanged = async (generation: Generation) => {
    if (listedTools === undefined) return;
    const answer = await ask(generation, 'tools/list', {}, HANDSHAKE_MS).catch(() => undefined);
    const now = JSON.stringify((answer?.result as { tools?: unknown } | undefined)?.tools ?? null);
    if (answer?.result !== undefined && now !== listedTools) {
      listedTools = now;
      toHost({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    }
  };

  const maybeRetire = () => {
    for (const generation of generations) {
      if (!generation.retired) continue;
      const busy = [...pending.values()].some((p) => p.generation === generation.n);
      if (!busy) void generation.server.process.stop();
    }
  };

  /** Starts the next generation and moves the host over to it. */
  const replaceNow = async (
    old: Generation,
    why: 'restarted with new credentials' | 'exited',
  ): Promise<boolean> => {
    let next: Generation | undefined;
    const started = (async () => {
      next = await launch();
      await handshake(next);
      return next;
    })();
    switching = started.then(
      () => {},
      () => {},
    );
    let fresh: Generation;
    try {
      fresh = await started;
    } catch (error) {
      switching = undefined;
      const message = mask(error instanceof Error ? error.message : String(error));
      if (why === 'exited') {
        settleLeftovers(old, 'exited');
        void finish({
          reason: 'server-failed',
          error:
            error instanceof LatchkeyError
              ? error
              : new LatchkeyError(
                  'SERVER_EXITED',
                  `The MCP server could not be started again: ${message}`,
                ),
        });
      } else {
        say(
          `latchkey: the MCP server could not be restarted with new credentials (${message}); the running one stays`,
        );
      }
      if (next) void next.server.process.stop();
      flushQueue();
      return false;
    }
    current = fresh;
    switching = undefined;
    old.retired = true;
    flushQueue();
    // A server that crashed meanwhile has exited already: what it held goes to the new one.
    if (why === 'exited' || !generations.has(old)) settleLeftovers(old, 'exited');
    else {
      maybeRetire();
      const timer = setTimeout(() => void old.server.process.stop(), DRAIN_MS);
      timer.unref();
    }
    options.onSwitched?.(fresh.n);
    await toolsChanged(fresh);
    return true;
  };

  const flushQueue = () => {
    const messages = queued.splice(0);
    for (const message of messages) {
      if (isRequest(message)) {
        const asked = pending.get(idKey(message.id));
        if (asked && current) asked.generation = current.n;
      }
      current?.server.process.send(message);
    }
  };

  const finish = async (end: RelayEnd) => {
    if (finished) return;
    finished = true;
    const all = [...generations];
    await Promise.all(all.map((g) => g.server.process.stop()));
    // Their credential files are gone before the relay ends (the process exits right after).
    await Promise.all(all.map((g) => g.cleaned));
    for (const asked of pending.values()) {
      if (end.reason === 'server-failed') {
        toHost(
          errorResponse(asked.message.id, INTERNAL_ERROR, end.error.message, {
            code: end.error.code,
          }),
        );
      } else if (end.reason === 'stopped') {
        toHost(errorResponse(asked.message.id, INTERNAL_ERROR, 'latchkey is stopping.'));
      }
    }
    pending.clear();
    endRelay(end);
  };

  current = await launch();
  // What the host sent while the first server started.
  flushQueue();
  options.onSwitched?.(1);
  return {
    async restart() {
      if (finished || !current) return false;
      return replace(current, 'restarted with new credentials');
    },
    stop: () => finish({ reason: 'stopped' }),
    ended,
  };
}

import type { Credentials } from '../credentials.js';
import { LatchkeyError } from '../errors.js';
import { sleep } from '../util/abort.js';
import type { Connection } from './connection.js';
import { exitedError } from './connection.js';
import type { ClientGate } from './supervised-client.js';

/** Automatic restarts after a crash. */
export interface CrashRestartOptions {
  /** Restarts allowed in a row (default 3); a server that ran `stableAfterMs` resets the count. */
  maxRestarts?: number;
  /** The first wait before restarting (default 500 ms); it doubles after each restart. */
  initialDelayMs?: number;
  /** The longest wait (default 10 s). */
  maxDelayMs?: number;
  /** How long a server must run for its crash count to be forgotten (default 60 s). */
  stableAfterMs?: number;
}

/** What the supervisor needs from `launchServer`. Internal. */
export interface SupervisorInit {
  /** `"Name" (id)`, for messages. */
  label: string;
  /** Starts one generation with these credentials; `onClose` runs synchronously when it closes. */
  connect(
    credentials: Credentials,
    generation: number,
    signal: AbortSignal,
    onClose: () => void,
  ): Promise<Connection>;
  /** Gets the credentials for a restart that was not handed any. */
  fresh(): Promise<Credentials>;
  crashRestarts: Required<CrashRestartOptions>;
  /** Reports progress. */
  restarting(reason: 'credentials' | 'crash' | 'requested', delayMs?: number): void;
  exited(pid: number | undefined, expected: boolean): void;
  started(connection: Connection, generation: number, credentials: Credentials): void;
  /** Releases everything else (timers, directory, listeners) once, when the launch ends. */
  finish(error: LatchkeyError | undefined): Promise<void>;
}

interface Generation {
  id: number;
  connection?: Connection;
  /** How the generation ended; unset while it runs. */
  ended?: 'restart' | 'crash' | 'close';
  startedAt: number;
  exitError?: Promise<LatchkeyError>;
}

/** Runs one launch's servers one generation at a time: restarts, crashes, close. Internal. */
export interface Supervisor extends ClientGate {
  /** The current process id. */
  readonly pid: number | undefined;
  /** Settles when the launch ends: `undefined` after close, the error after a fatal crash. */
  readonly closed: Promise<LatchkeyError | undefined>;
  /** Starts the first generation; rejects (and cleans up) when it fails. */
  start(credentials: Credentials, signal?: AbortSignal): Promise<void>;
  /** Stops the server and starts it again, with `credentials` or fresh ones. */
  restart(reason: 'credentials' | 'requested', credentials?: Credentials): Promise<void>;
  /** Waits until queued restarts are done. */
  idle(): Promise<void>;
  /** Kills the current process at once (exit and signal handlers). */
  killSync(): void;
}

/** Makes a {@link Supervisor}. */
export function createSupervisor(init: SupervisorInit): Supervisor {
  const generations = new Map<number, Generation>();
  let current: Generation | undefined;
  let counter = 0;
  let phase: 'starting' | 'ready' | 'restarting' | 'closed' = 'starting';
  let finalError: LatchkeyError | undefined;
  let queue: Promise<void> = Promise.resolve();
  let crashes = 0;
  const shutdown = new AbortController();

  let resolveClosed: (error: LatchkeyError | undefined) => void = () => {};
  const closed = new Promise<LatchkeyError | undefined>((resolve) => {
    resolveClosed = resolve;
  });
  let readyWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  const closedError = () =>
    finalError ??
    new LatchkeyError(
      'SERVER_EXITED',
      `The MCP server ${init.label} was closed by the application.`,
    );

  /** Runs `task` after every earlier one. */
  const serial = (task: () => Promise<void>): Promise<void> => {
    const run = queue.then(task);
    queue = run.catch(() => {});
    return run;
  };

  const setReady = () => {
    phase = 'ready';
    for (const waiter of readyWaiters) waiter.resolve();
    readyWaiters = [];
  };

  /** Starts a new generation (the previous one must be stopped). */
  const startGeneration = async (credentials: Credentials): Promise<void> => {
    counter += 1;
    const generation: Generation = { id: counter, startedAt: Date.now() };
    generations.set(generation.id, generation);
    generations.delete(generation.id - 10);
    current = generation;
    const onClose = () => {
      if (generation.ended !== undefined) return;
      generation.ended = 'crash';
      const connection = generation.connection;
      // A server that fails while starting is reported by whoever started it.
      if (!connection) return;
      // Calls made from now on wait for the restart, or fail when there is none.
      if (phase === 'ready') phase = 'restarting';
      generation.exitError = connection
        .stderrTail()
        .then((tail) => exitedError(init.label, 'unexpectedly', tail));
      void serial(() => handleCrash(generation));
    };
    const connection = await init.connect(credentials, generation.id, shutdown.signal, onClose);
    generation.connection = connection;
    setReady();
    init.started(connection, generation.id, credentials);
  };

  const stopCurrent = async (why: 'restart' | 'close') => {
    const generation = current;
    if (!generation?.connection) return;
    const wasRunning = generation.ended === undefined;
    generation.ended ??= why;
    await generation.connection.stop();
    if (wasRunning) init.exited(generation.connection.pid, true);
  };

  const finish = async (error: LatchkeyError | undefined) => {
    if (phase === 'closed') return;
    phase = 'closed';
    finalError = error;
    shutdown.abort(closedError());
    for (const waiter of readyWaiters) waiter.reject(closedError());
    readyWaiters = [];
    await stopCurrent('close');
    await init.finish(error);
    resolveClosed(error);
  };

  /** After a crash: restart with backoff while allowed, else end the launch. */
  const handleCrash = async (generation: Generation): Promise<void> => {
    if (phase === 'closed' || generation !== current) return;
    const error = await (generation.exitError as Promise<LatchkeyError>);
    if (generation.connection) init.exited(generation.connection.pid, false);
    const limits = init.crashRestarts;
    if (Date.now() - generation.startedAt >= limits.stableAfterMs) crashes = 0;
    let lastError = error;
    phase = 'restarting';
    while (crashes < limits.maxRestarts) {
      const delayMs = Math.min(limits.maxDelayMs, limits.initialDelayMs * 2 ** crashes);
      crashes += 1;
      init.restarting('crash', delayMs);
      try {
        await sleep(delayMs, shutdown.signal);
        await startGeneration(await init.fresh());
        return;
      } catch (failure) {
        if (shutdown.signal.aborted) return;
        lastError =
          failure instanceof LatchkeyError
            ? failure
            : exitedError(init.label, 'while restarting after a crash', []);
      }
    }
    await finish(lastError);
  };

  const restartNow = async (
    reason: 'credentials' | 'requested',
    credentials: Credentials | undefined,
  ) => {
    if (phase === 'closed') throw closedError();
    // Get the new credentials first: if that fails, the running server keeps going.
    let next: Credentials;
    try {
      next = credentials ?? (await init.fresh());
    } catch (error) {
      if (phase === 'restarting' && current?.ended === undefined) setReady();
      throw error;
    }
    if (shutdown.signal.aborted) throw closedError();
    init.restarting(reason);
    await stopCurrent('restart');
    try {
      await startGeneration(next);
    } catch (error) {
      const failure = error instanceof LatchkeyError ? error : closedError();
      if (shutdown.signal.aborted) throw failure;
      if (init.crashRestarts.maxRestarts > 0 && current) {
        current.ended = 'crash';
        current.exitError = Promise.resolve(failure);
        void serial(() => handleCrash(current as Generation));
      } else await finish(failure);
      throw failure;
    }
  };

  return {
    get pid() {
      return current?.ended === undefined ? current?.connection?.pid : undefined;
    },
    closed,
    async start(credentials, signal) {
      const onAbort = () => shutdown.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await startGeneration(credentials);
      } catch (error) {
        phase = 'closed';
        await init.finish(error instanceof LatchkeyError ? error : undefined);
        throw error;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    restart(reason, credentials) {
      // Calls made from now on go to the restarted server.
      if (phase === 'ready') phase = 'restarting';
      return serial(() => restartNow(reason, credentials));
    },
    idle: () => serial(async () => {}),
    killSync() {
      // The host is going away: no crash handling, no restart.
      shutdown.abort(closedError());
      if (current) current.ended ??= 'close';
      current?.connection?.killSync();
    },
    async ready() {
      while (phase !== 'ready') {
        if (phase === 'closed') throw closedError();
        await new Promise<void>((resolve, reject) => readyWaiters.push({ resolve, reject }));
      }
      return counter;
    },
    async mapError(error, generationId) {
      if (error instanceof LatchkeyError) return error;
      const generation = generations.get(generationId);
      if (generation?.ended === 'crash' && generation.exitError) return generation.exitError;
      if (generation?.ended === 'restart' || (generation && generation !== current)) {
        return new LatchkeyError(
          'SERVER_RESTARTED',
          `The MCP server ${init.label} restarted while this request was in flight, so it got no answer. Send it again.`,
          { cause: error },
        );
      }
      if (phase === 'closed') return closedError();
      return error;
    },
    close() {
      // Abort a start in progress, then wait for whatever runs to notice.
      shutdown.abort(closedError());
      return serial(() => finish(undefined)).then(() => closed.then(() => {}));
    },
  };
}

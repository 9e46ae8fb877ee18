/** What the client proxy asks the supervisor. Internal. */
export interface ClientGate {
  /** Waits until a server is connected; resolves with its generation. Rejects once closed. */
  ready(): Promise<number>;
  /** Turns the failure of a request sent to `generation` into the error the host should see. */
  mapError(error: unknown, generation: number): Promise<unknown>;
  /** Closes the launch (the host called `client.close()`). */
  close(): Promise<void>;
}

/** The `Client` methods that send something to the server. */
const SENDING = new Set([
  'callTool',
  'complete',
  'discover',
  'getPrompt',
  'listPrompts',
  'listResourceTemplates',
  'listResources',
  'listTools',
  'listen',
  'notification',
  'ping',
  'readResource',
  'request',
  'sendRootsListChanged',
  'setLoggingLevel',
  'subscribeResource',
  'unsubscribeResource',
]);

/**
 * The `Client` a host holds for a launched server: the SDK's own `Client`, behind a
 * proxy that keeps it usable across restarts. Calls made while the server restarts wait
 * for it; calls in flight when it restarts reject with `SERVER_RESTARTED`, and those in
 * flight when it crashes with `SERVER_EXITED`. Handlers the host sets on it survive
 * restarts, because the same `Client` is reconnected. `close()` closes the launch;
 * `connect()` is not available.
 */
export function supervisedClient<C extends object>(client: C, gate: ClientGate): C {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(client, {
    get(target, property) {
      const cached = wrapped.get(property);
      if (cached !== undefined) return cached;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let fn: unknown;
      if (property === 'close') fn = () => gate.close();
      else if (property === 'connect') {
        fn = () =>
          Promise.reject(
            new TypeError('A launched server connects by itself; use restart() or close()'),
          );
      } else if (typeof property === 'string' && SENDING.has(property)) {
        fn = async (...args: unknown[]) => {
          const generation = await gate.ready();
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } catch (error) {
            throw await gate.mapError(error, generation);
          }
        };
      } else fn = (value as (...a: unknown[]) => unknown).bind(target);
      wrapped.set(property, fn);
      return fn;
    },
  });
}

/**
 * Kills launched servers and removes launch directories when the host exits or gets
 * SIGINT/SIGTERM. Handlers are installed only while something is registered; after
 * cleaning up on a signal, the signal is raised again when no other listener handles
 * it, so the host ends exactly as it would have without Latchkey. Internal.
 */

type Cleanup = () => void;

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const entries = new Set<Cleanup>();
let installed = false;

function runAll(): void {
  const all = [...entries];
  entries.clear();
  for (const cleanup of all) {
    try {
      cleanup();
    } catch {
      // Keep cleaning up the others.
    }
  }
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
  process.removeListener('exit', runAll);
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  uninstall();
  // Without another listener, Node's default for the signal is to end the process.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/**
 * Registers a synchronous cleanup (kill a child, remove a directory) to run if the host
 * exits or is signalled first. Returns a function that unregisters it.
 */
export function onHostExit(cleanup: Cleanup): () => void {
  entries.add(cleanup);
  if (!installed) {
    installed = true;
    for (const signal of SIGNALS) process.on(signal, onSignal);
    process.on('exit', runAll);
  }
  return () => {
    entries.delete(cleanup);
    if (entries.size === 0) uninstall();
  };
}

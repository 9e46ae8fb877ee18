/**
 * Module resolution hooks, run in Node.js's loader thread (`module.register()`), for an
 * ES module config file: its imports of the Latchkey packages resolve to the copies the
 * CLI runs. So a config module works wherever it lives (no `npm install` next to it),
 * and the values it makes (a `Secret`, a provider) are the CLI's own, not a second
 * copy's. Internal.
 */

interface ResolveContext {
  conditions: string[];
  importAttributes: Record<string, string>;
  parentURL?: string;
}

type NextResolve = (
  specifier: string,
  context: ResolveContext,
) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>;

let packages: Record<string, string> = {};

export async function initialize(data: { packages: Record<string, string> }): Promise<void> {
  packages = data.packages;
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve) {
  const url = packages[specifier];
  if (url !== undefined) return { url, shortCircuit: true };
  return next(specifier, context);
}

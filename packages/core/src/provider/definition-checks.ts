import { LatchkeyError } from '../errors.js';
import { endpointProblem } from '../util/url.js';

/** Throws `PROVIDER_CONFIG` naming the bad field. */
export function fail(field: string, problem: string): never {
  throw new LatchkeyError('PROVIDER_CONFIG', `Provider field "${field}" ${problem}.`);
}

/** Checks an endpoint URL: https, or http on loopback (when allowed). */
export function checkEndpoint(field: string, value: unknown, allowHttpLoopback = true): string {
  if (typeof value !== 'string') fail(field, 'must be a URL string');
  const problem = endpointProblem(value, allowHttpLoopback);
  if (problem) fail(field, problem);
  return value;
}

/** Checks an optional hook is a function. */
export function checkFunction(field: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') fail(field, 'must be a function');
}

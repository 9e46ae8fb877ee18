import { LatchkeyError } from '../errors.js';
import { endpointProblem } from '../util/url.js';
import type { RedirectOptions } from './common-types.js';

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

/** Checks the fixed parts of a loopback redirect and fills in the defaults (any free port, `/callback`). */
export function checkRedirect(
  field: string,
  value: Partial<RedirectOptions> | undefined,
): Readonly<RedirectOptions> {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    fail(field, 'must be an object with port and path');
  }
  const port = value?.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`${field}.port`, 'must be an integer from 0 to 65535');
  }
  const path = value?.path ?? '/callback';
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/.test(path)) {
    fail(`${field}.path`, 'must start with "/" and contain no query or fragment');
  }
  return Object.freeze({ port, path });
}

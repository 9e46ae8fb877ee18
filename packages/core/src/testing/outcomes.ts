import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { isLatchkeyError, type LatchkeyError, type LatchkeyErrorCode } from '../errors.js';

// How the store contract's cases run a store call and say what went wrong. Internal.

/** How a store call settled, with a description of the call for failure messages. */
export type Attempt<T> =
  | { readonly what: string; readonly ok: true; readonly value: T }
  | { readonly what: string; readonly ok: false; readonly error: unknown };

export function show(value: unknown): string {
  return inspect(value, { depth: 8, breakLength: Number.POSITIVE_INFINITY });
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return show(error);
  const code: unknown = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
}

/**
 * Calls a store method and records how its promise settles. A synchronous throw or a
 * result that is not a promise fails at once: every store method returns a promise.
 */
export function attempt<T>(what: string, call: () => Promise<T>): Promise<Attempt<T>> {
  let result: Promise<T>;
  try {
    result = call();
  } catch (error) {
    assert.fail(`${what} threw synchronously (${describeError(error)}); it must return a promise`);
  }
  if (typeof (result as { then?: unknown } | null | undefined)?.then !== 'function') {
    assert.fail(`${what} returned ${show(result)}, not a promise`);
  }
  return result.then(
    (value) => ({ what, ok: true, value }),
    (error: unknown) => ({ what, ok: false, error }),
  );
}

export function resolved<T>(outcome: Attempt<T>): T {
  if (!outcome.ok) assert.fail(`${outcome.what} rejected with ${describeError(outcome.error)}`);
  return outcome.value;
}

export function resolvedTo(outcome: Attempt<unknown>, expected: unknown): void {
  equal(resolved(outcome), expected, outcome.what);
}

export function rejectedWith(outcome: Attempt<unknown>, expected: unknown): void {
  if (outcome.ok) {
    assert.fail(
      `${outcome.what} resolved with ${show(outcome.value)}; it must reject with ${describeError(expected)}`,
    );
  }
  assert.equal(
    outcome.error,
    expected,
    `${outcome.what} rejected with ${describeError(outcome.error)}; it must reject with the very error fn threw (${describeError(expected)})`,
  );
}

export function rejectedWithCode(
  outcome: Attempt<unknown>,
  code: LatchkeyErrorCode,
): LatchkeyError {
  if (outcome.ok) {
    assert.fail(
      `${outcome.what} resolved with ${show(outcome.value)}; it must reject with a LatchkeyError of code ${code}`,
    );
  }
  const { error } = outcome;
  assert.notEqual(
    error,
    undefined,
    `${outcome.what} rejected with undefined; it must reject with a LatchkeyError of code ${code}`,
  );
  assert.ok(
    isLatchkeyError(error),
    `${outcome.what} rejected with ${describeError(error)}; it must reject with a LatchkeyError of code ${code}`,
  );
  assert.equal(
    error.code,
    code,
    `${outcome.what} rejected with a LatchkeyError of code ${error.code}; the code must be ${code}`,
  );
  return error;
}

/** Deep, strict equality of what a store gave back with what it should have given. */
export function equal(actual: unknown, expected: unknown, what: string): void {
  assert.deepStrictEqual(
    actual,
    expected,
    `${what} gave ${show(actual)}; it must give ${show(expected)}`,
  );
}

// Runs in every test file: captures everything written to the console and to stdout
// and stderr, and fails the file if any token a test auth server issued shows up.
import { format } from 'node:util';
import { issuedSecrets } from '@latchkey/testkit';
import { afterAll, expect } from 'vitest';

const captured: string[] = [];
const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
for (const method of methods) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    captured.push(format(...args));
    original(...args);
  };
}
for (const stream of [process.stdout, process.stderr]) {
  const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
    return original(chunk, ...rest);
  }) as typeof stream.write;
}

afterAll(() => {
  const output = captured.join('\n');
  const leaked = [...issuedSecrets()].filter((secret) => output.includes(secret));
  expect(leaked.length, 'issued tokens appeared in the test output').toBe(0);
});

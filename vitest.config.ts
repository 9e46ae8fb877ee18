import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests run against the source of the workspace packages, not their builds.
    alias: {
      '@latchkey/core/oauth': fileURLToPath(
        new URL('./packages/core/src/oauth.ts', import.meta.url),
      ),
      '@latchkey/core/testing': fileURLToPath(
        new URL('./packages/core/src/testing.ts', import.meta.url),
      ),
      '@latchkey/core/store': fileURLToPath(
        new URL('./packages/core/src/store-authors.ts', import.meta.url),
      ),
      '@latchkey/core/sdk-v1': fileURLToPath(
        new URL('./packages/core/src/sdk-v1.ts', import.meta.url),
      ),
      '@latchkey/core/sdk-v2': fileURLToPath(
        new URL('./packages/core/src/sdk-v2.ts', import.meta.url),
      ),
      '@latchkey/core': fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url)),
      '@latchkey/browser-extract': fileURLToPath(
        new URL('./packages/browser-extract/src/index.ts', import.meta.url),
      ),
      '@latchkey/provider-google': fileURLToPath(
        new URL('./packages/provider-google/src/index.ts', import.meta.url),
      ),
      '@latchkey/provider-slack': fileURLToPath(
        new URL('./packages/provider-slack/src/index.ts', import.meta.url),
      ),
      '@latchkey/store-postgres': fileURLToPath(
        new URL('./packages/store-postgres/src/index.ts', import.meta.url),
      ),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    setupFiles: ['packages/core/test/setup/no-secret-output.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});

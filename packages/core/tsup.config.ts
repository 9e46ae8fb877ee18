import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    oauth: 'src/oauth.ts',
    testing: 'src/testing.ts',
    store: 'src/store-authors.ts',
    'sdk-v1': 'src/sdk-v1.ts',
    'sdk-v2': 'src/sdk-v2.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  treeshake: true,
  // One copy of each module across the entries, in both formats, so a LatchkeyError from
  // @latchkey/core/oauth is the same class as the one from @latchkey/core.
  splitting: true,
  // An optional dependency with a native binary per platform: loaded where installed.
  external: ['@napi-rs/keyring'],
});

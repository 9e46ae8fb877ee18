import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/bin.ts', 'src/config-hooks.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  treeshake: true,
  banner: { js: '#!/usr/bin/env node' },
});

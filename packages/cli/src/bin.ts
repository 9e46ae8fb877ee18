import { readFileSync } from 'node:fs';
import { main } from './main.js';

const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as {
  version: string;
};

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  version,
});
// Let stdout drain before leaving; then leave, whatever handles stay open.
process.stdout.write('', () => process.exit(code));

// @latchkey/store-postgres as a web app gets it: core and the store packed into tarballs,
// installed outside the workspace into an app that brings its own pg, type-checked with
// `strict` (and the packages' declarations checked too), then run against a real
// PostgreSQL and oidc-provider: one copy of pg in the app, the store on the app's pool.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  startAuthServer,
  startPostgres,
  type TestAuthServer,
  type TestPostgres,
} from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/host-app/', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const INSTALL_TIMEOUT_MS = 300_000;

let tmp: string | undefined;
let app: string;
let auth: TestAuthServer | undefined;
let database: TestPostgres | undefined;

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, {
    cwd,
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 16 << 20,
  });
  return stdout;
}

/** Builds a package into a staging copy and packs it there, leaving its own dist alone. */
async function pack(folder: string): Promise<string> {
  const source = join(root, 'packages', folder);
  const stage = join(tmp as string, `stage-${folder}`);
  await run('npx', ['tsup', '--out-dir', join(stage, 'dist')], {
    cwd: source,
    timeout: INSTALL_TIMEOUT_MS,
  });
  for (const file of ['package.json', 'README.md', 'LICENSE']) {
    await copyFile(join(source, file), join(stage, file));
  }
  const packed = JSON.parse(
    await npm(['pack', '--json', '--pack-destination', tmp as string], stage),
  ) as {
    filename: string;
  }[];
  return join(tmp as string, (packed[0] as { filename: string }).filename);
}

beforeAll(async () => {
  [auth, database] = await Promise.all([startAuthServer(), startPostgres()]);
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-pg-host-'));
  const [core, store] = [await pack('core'), await pack('store-postgres')];
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  const pgVersion = (
    JSON.parse(await readFile(join(root, 'node_modules/pg/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  app = join(tmp, 'app');
  await mkdir(app);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'pg-host-app',
      private: true,
      type: 'module',
      dependencies: {
        '@latchkey/core': `file:${core}`,
        '@latchkey/store-postgres': `file:${store}`,
        pg: pgVersion,
        '@types/node': manifest.devDependencies['@types/node'],
      },
    }),
  );
  for (const file of ['main.ts', 'tsconfig.json'])
    await copyFile(join(fixture, file), join(app, file));
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline'], app);
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await auth?.close();
  await database?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('a web app with the packed @latchkey/store-postgres', () => {
  it('holds one copy of pg, the app’s own', async () => {
    const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>;
    };
    const copies = Object.keys(lock.packages).filter(
      (path) => path === 'node_modules/pg' || path.endsWith('/node_modules/pg'),
    );
    expect(copies).toEqual(['node_modules/pg']);
  });

  it('type-checks with strict, declarations included, without installing @types/pg itself', async () => {
    const { stdout } = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], {
      cwd: app,
    }).catch((error: { stdout?: string }) => ({
      stdout: `FAILED\n${error.stdout ?? String(error)}`,
    }));
    expect(stdout).toBe('');
  }, 120_000);

  it('runs: a web sign-in started and a value kept on the app’s own pool', async () => {
    const { stdout } = await run(process.execPath, [join(app, 'dist/main.js')], {
      cwd: app,
      timeout: 60_000,
      env: {
        ...process.env,
        DATABASE_URL: database?.connectionString,
        LATCHKEY_KEY: randomBytes(32).toString('base64'),
        ISSUER: auth?.issuer,
        CLIENT_ID: auth?.clients.public.clientId,
      },
    });
    const result = JSON.parse(stdout.trim()) as { url: string; counted: number; note: unknown };
    expect(new URL(result.url).searchParams.get('redirect_uri')).toBe(
      'https://app.example.com/callback',
    );
    // The pending sign-in and the note: two keys of the user's.
    expect(result.counted).toBe(2);
    expect(result.note).toEqual({ text: 'kept' });
    const rows = await database?.query<{ key: string }>(
      'SELECT key FROM host_app.latchkey_credentials',
    );
    expect(rows?.map((r) => r.key).sort()).toEqual([
      'users/user-1/notes/n1',
      expect.stringMatching(/^users\/user-1\/signin\//),
    ]);
  }, 90_000);
});

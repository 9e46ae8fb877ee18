// login, status, logout and recipes as a person runs them, against a real oidc-provider;
// and every wrong command line and config file.

import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import {
  completeAuthorization,
  completeDeviceAuthorization,
  startAuthServer,
  type TestAuthServer,
} from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGoogle } from '../../provider-google/test/fixtures/fake-google.js';
import {
  cli,
  cliEnv,
  fakeGoogleConfig,
  ROOT,
  runCli,
  SIGN_IN_BROWSER,
  tempHome,
} from './helpers.js';

let as: TestAuthServer;
const homes: { remove(): Promise<void> }[] = [];

beforeAll(async () => {
  as = await startAuthServer({ accessTokenTtl: 3600 });
});
afterAll(async () => {
  await as?.close();
});
afterEach(async () => {
  for (const home of homes.splice(0)) await home.remove();
});

async function env(extra: Record<string, string | undefined> = {}) {
  const home = await tempHome();
  homes.push(home);
  return {
    dir: home.dir,
    env: cliEnv(home.dir, {
      TEST_ISSUER: as.issuer,
      TEST_CLIENT_ID: as.clients.public.clientId,
      BROWSER: SIGN_IN_BROWSER,
      ...extra,
    }),
  };
}

describe('login, status, logout', () => {
  it('signs in, lists the login as text and JSON without a secret, logs out revoking it', async () => {
    const { env: e } = await env();
    const login = await runCli(['login', 'test-as'], e);
    expect(login.code).toBe(0);
    expect(login.stdout).toBe('');
    expect(login.stderr).toContain('Open this page to sign in: http://127.0.0.1:');
    expect(login.stderr).toContain('OK: Signed in to Test AS as alice@example.test');

    const text = await runCli(['status'], e);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^test-as {2}alice@example\.test {2}scopes: openid email read {2}expires in (59|60) min {2}can refresh\n$/,
    );

    const json = await runCli(['status', '--json'], e);
    const parsed = JSON.parse(json.stdout) as { logins: Record<string, unknown>[] };
    expect(parsed.logins).toEqual([
      {
        provider: 'test-as',
        providerName: 'Test AS',
        account: 'alice@example.test',
        scopes: ['openid', 'email', 'read'],
        expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        obtainedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        refreshable: true,
        configured: true,
      },
    ]);
    expect(json.stdout + text.stdout).not.toMatch(/token|secret/i);

    as.resetCounts();
    const logout = await runCli(['logout', 'test-as'], e);
    expect(logout.code).toBe(0);
    expect(logout.stderr).toContain(
      'Logged out of Test AS as alice@example.test (the grant was revoked)',
    );
    expect(as.counts().revocation).toBeGreaterThan(0);
    const after = await runCli(['status'], e);
    expect(after.stdout).toBe('No logins stored. Sign in with: latchkey login <provider>\n');
  });

  it('a second login with --account keeps both; logout without --account then asks which', async () => {
    const { env: e } = await env();
    expect((await runCli(['login', 'test-as'], e)).code).toBe(0);
    as.setAccount('bob');
    try {
      expect((await runCli(['login', 'test-as', '--account', 'bob@example.test'], e)).code).toBe(0);
    } finally {
      as.setAccount('alice');
    }
    const status = await runCli(['status'], e);
    expect(
      status.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('  ')[1]),
    ).toEqual(['alice@example.test', 'bob@example.test']);
    const ambiguous = await runCli(['logout', 'test-as'], e);
    expect(ambiguous.code).toBe(4);
    expect(ambiguous.stderr).toContain('ACCOUNT_AMBIGUOUS');
    expect(ambiguous.stderr).toContain('alice@example.test, bob@example.test');
    expect((await runCli(['logout', 'test-as', '--account', 'bob@example.test'], e)).code).toBe(0);
    expect((await runCli(['status'], e)).stdout).not.toContain('bob@');
  });

  it('without a display or BROWSER: the device flow, its code on stderr; a user on another device approves it', async () => {
    const { env: e } = await env({ BROWSER: undefined });
    const { command, args } = cli(['login', 'test-as']);
    const child = spawn(command, args, { cwd: ROOT, env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    const code = new Promise<string>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const found = /and enter the code (\S+)/.exec(stderr);
        if (found) resolve(found[1] as string);
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const outcome = await completeDeviceAuthorization(as, { userCode: await code });
    expect(outcome.approved).toBe(true);
    expect(await exited).toBe(0);
    expect(stderr).toContain('OK: Signed in to Test AS as alice@example.test');
    expect(as.counts().deviceAuthorization).toBeGreaterThan(0);
  });

  it('without a display, BROWSER or a device endpoint (Google has none): the URL on stderr, and it waits for the user', async () => {
    const fake = await startFakeGoogle();
    const { dir, env: e } = await env({ BROWSER: undefined });
    e.LATCHKEY_CONFIG = await fakeGoogleConfig(dir, fake);
    const { command, args } = cli(['login', 'google']);
    const child = spawn(command, args, { cwd: ROOT, env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    const url = new Promise<string>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const found = /Open this page to sign in: (\S+)/.exec(stderr);
        if (found) resolve(found[1] as string);
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const page = await url;
    // The user opens it a moment later in a browser of this machine.
    await new Promise((r) => setTimeout(r, 500));
    await completeAuthorization(page);
    try {
      expect(await exited).toBe(0);
    } finally {
      await fake.close();
    }
    expect(stderr).toContain('Google offers no device sign-in.');
    expect(stderr).toContain('No display here: open the page above in a browser on this machine.');
    expect(stderr).toContain('OK: Signed in to Google as ada.lovelace@gmail.com');
  });

  it('--flow paste: the URL on stderr, the address the browser ended on read from stdin', async () => {
    const { env: e } = await env({ BROWSER: undefined });
    const { command, args } = cli(['login', 'test-as', '--flow', 'paste']);
    const child = spawn(command, args, { cwd: ROOT, env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    const url = new Promise<string>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const found = /Open this page in any browser and sign in: (\S+)/.exec(stderr);
        if (found && stderr.includes('Then paste the address')) resolve(found[1] as string);
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const page = await url;
    // The browser runs on another device: there, the redirect lands on a page of its own.
    const redirect = new URL(new URL(page).searchParams.get('redirect_uri') as string);
    const elsewhere = createServer((_req, res) => res.end('a page elsewhere'));
    await new Promise<void>((resolve) =>
      elsewhere.listen(Number(redirect.port), '127.0.0.1', resolve),
    );
    let finalUrl: string;
    try {
      finalUrl = (await completeAuthorization(page)).finalUrl;
    } finally {
      await new Promise((r) => elsewhere.close(r));
    }
    child.stdin.write(`${finalUrl}\n`);
    expect(await exited).toBe(0);
    expect(stderr).toContain('OK: Signed in to Test AS as alice@example.test');
  });

  it('Ctrl-C while waiting for the sign-in ends login at once with exit code 130', async () => {
    // A browser that opens nothing: the sign-in waits for a user who never comes.
    const { env: e } = await env({ BROWSER: 'true' });
    const { command, args } = cli(['login', 'test-as']);
    const child = spawn(command, args, { cwd: ROOT, env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    const waiting = new Promise<void>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (stderr.includes('Waiting for the sign-in')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waiting;
    const sent = Date.now();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(Date.now() - sent).toBeLessThan(5000);
  });

  it('logout of a provider with nothing stored: LOGIN_REQUIRED, exit 4', async () => {
    const { env: e } = await env();
    const result = await runCli(['logout', 'test-as'], e);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(
      'latchkey: error LOGIN_REQUIRED: No login is stored for Test AS',
    );
  });
});

describe('recipes and help', () => {
  it('lists the built-in recipes and the config module’s, with provider and scopes', async () => {
    const { env: e } = await env();
    const result = await runCli(['recipes', '--json'], e);
    expect(result.code).toBe(0);
    const { recipes } = JSON.parse(result.stdout) as {
      recipes: { id: string; provider?: string; scopes: string[]; origin: string }[];
    };
    const byId = Object.fromEntries(recipes.map((r) => [r.id, r]));
    expect(Object.keys(byId)).toEqual(
      expect.arrayContaining([
        'gdrive',
        'gmail',
        'google-workspace',
        'slack',
        'slack-mcp-server',
        'token-server',
        'everything',
      ]),
    );
    expect(byId.gdrive).toMatchObject({
      provider: 'google',
      scopes: ['https://www.googleapis.com/auth/drive.readonly'],
      origin: 'built-in',
    });
    expect(byId['slack-mcp-server']).toMatchObject({ provider: 'slack-browser' });
    expect(byId['token-server']).toMatchObject({ provider: 'test-as', origin: 'config' });
    const text = await runCli(['recipes'], e);
    expect(text.stdout).toContain(
      'gdrive  Google Drive  provider: google  scopes: https://www.googleapis.com/auth/drive.readonly\n',
    );
  });

  it('--help lists every command with examples, on stdout', async () => {
    const { env: e } = await env();
    const result = await runCli(['--help'], e);
    expect(result.code).toBe(0);
    for (const command of ['login', 'status', 'logout', 'run', 'connect', 'recipes']) {
      expect(result.stdout).toContain(`latchkey ${command}`);
    }
    expect(result.stdout).toContain('Examples:');
    expect(result.stderr).toBe('');
  });
});

describe('bad input', () => {
  it('an unknown recipe or provider: the message lists the known ones, exit 2', async () => {
    const { env: e } = await env();
    const recipe = await runCli(['run', 'gdirve'], e);
    expect(recipe.code).toBe(2);
    expect(recipe.stderr).toContain(
      'latchkey: error CLI_USAGE: There is no recipe "gdirve". The recipes latchkey knows: gdrive, gmail, google-workspace, slack, slack-mcp-server, token-server, token-file-server, everything, exits-at-start, not-installed. Add your own',
    );
    expect(recipe.stdout).toBe('');
    const provider = await runCli(['login', 'gogle'], e);
    expect(provider.code).toBe(2);
    expect(provider.stderr).toContain(
      'There is no provider "gogle". The providers latchkey knows: google, slack, slack-browser, test-as',
    );
  });

  it('a wrong command line: unknown command, unknown flag, missing argument, bad --flow', async () => {
    const { env: e } = await env();
    const cases: [string[], string][] = [
      [['frob'], 'There is no command "frob"'],
      [['status', '--jsn'], "Unknown option '--jsn'"],
      [['login'], '`latchkey login` takes one provider or URL'],
      [['login', 'test-as', '--flow', 'carrier-pigeon'], '--flow takes browser, device, paste'],
      [['status', '--account', 'x'], '`latchkey status` takes no --account'],
      [
        ['connect', 'https://a.example', '--', 'x'],
        'Only `latchkey run` passes arguments after "--" on',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, e);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('CLI_USAGE');
      expect(result.stderr).toContain(message);
    }
  });

  it('a broken JSON config: the line and what is wrong, exit 3', async () => {
    const { dir, env: e } = await env();
    const file = join(dir, 'config.json');
    await writeFile(file, '{\n  "providers": {\n    "google": { "clientId": "x" },\n  }\n}\n');
    const result = await runCli(['status'], { ...e, LATCHKEY_CONFIG: file });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `latchkey: error CONFIG_INVALID: The config file ${file} is not valid JSON at line 4, column 3`,
    );
  });

  it('a config with an unknown key, or options for no such provider: named, exit 3', async () => {
    const { dir, env: e } = await env();
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ provider: {} }));
    const key = await runCli(['status'], { ...e, LATCHKEY_CONFIG: file });
    expect(key.code).toBe(3);
    expect(key.stderr).toContain('has an unknown key "provider"');
    await writeFile(file, JSON.stringify({ providers: { gogle: { clientId: 'x' } } }));
    const id = await runCli(['status'], { ...e, LATCHKEY_CONFIG: file });
    expect(id.code).toBe(3);
    expect(id.stderr).toContain('options for "providers.gogle", but there is no such provider');
  });

  it('a config module that throws: the file, the line and the error, exit 3', async () => {
    const { dir, env: e } = await env();
    const file = join(dir, 'config.mjs');
    await writeFile(
      file,
      'export const recipes = [];\nthrow new Error("no client id in this config yet");\n',
    );
    const result = await runCli(['recipes'], { ...e, LATCHKEY_CONFIG: file });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `The config module ${file} failed to load (line 2): no client id in this config yet`,
    );
  });

  it('LATCHKEY_CONFIG naming a missing file: said, exit 3; no config at all is fine', async () => {
    const { dir, env: e } = await env();
    const missing = await runCli(['status'], { ...e, LATCHKEY_CONFIG: join(dir, 'nope.json') });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('does not exist. LATCHKEY_CONFIG names it');
    const { LATCHKEY_CONFIG: _named, ...noConfig } = e;
    const none = await runCli(['status'], noConfig);
    expect(none.code).toBe(0);
  });

  it('Google without a client id: CONFIG_INVALID naming the file to put it in, nothing opened', async () => {
    const { dir, env: e } = await env({ LATCHKEY_CONFIG: undefined });
    await mkdir(join(dir, 'latchkey'), { recursive: true });
    const result = await runCli(['login', 'google'], e);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `add "providers": { "google": { "clientId": "….apps.googleusercontent.com", "clientSecret": "…" } } to a config file, ${join(dir, 'latchkey', 'config.json')}`,
    );
    expect(result.stderr).not.toContain('Open this page');
  });
});

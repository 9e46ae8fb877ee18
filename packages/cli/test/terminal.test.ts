// `latchkey login` in a real terminal: tmux runs it, capture-pane reads the screen.
import { execFileSync, spawnSync } from 'node:child_process';
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliEnv, ROOT, SIGN_IN_BROWSER, tempHome } from './helpers.js';

const SOCKET = `latchkey-test-${process.pid}`;
const SESSION = 'login';
let as: TestAuthServer;
let home: { dir: string; remove(): Promise<void> };

const tmux = (...args: string[]) =>
  execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (session = SESSION) => tmux('capture-pane', '-p', '-t', session);
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

beforeAll(async () => {
  if (spawnSync('tmux', ['-V']).status !== 0) {
    throw new Error(
      'These tests need tmux (the terminal they drive): install it, for example apt-get install tmux',
    );
  }
  as = await startAuthServer();
  home = await tempHome();
});
afterAll(async () => {
  spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  await as?.close();
  await home?.remove();
});

/** Starts `latchkey <args>` in a new tmux session; the pane stays after it ends. */
function start(session: string, args: string[], env: Record<string, string>): void {
  const { command, args: full } = cli(args);
  const line = [
    'cd',
    quote(ROOT),
    '&&',
    'env',
    '-i',
    ...Object.entries(env).map(([k, v]) => quote(`${k}=${v}`)),
    quote(command),
    ...full.map(quote),
    '; echo "exit=$?"; sleep 600',
  ].join(' ');
  tmux('new-session', '-d', '-s', session, '-x', '250', '-y', '40', line);
}

async function until(
  what: string,
  check: (text: string) => boolean,
  timeoutMs = 30_000,
  session = SESSION,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = screen(session);
    if (check(text)) return text;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; the screen:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('latchkey login in a terminal', () => {
  it('shows the URL, a spinner while the sign-in runs, then the success line; status reads as text', async () => {
    const env = cliEnv(home.dir, {
      TEST_ISSUER: as.issuer,
      TEST_CLIENT_ID: as.clients.public.clientId,
      BROWSER: SIGN_IN_BROWSER,
      SIGN_IN_DELAY_MS: '2500',
      TERM: 'xterm-256color',
    });
    start(SESSION, ['login', 'test-as'], env);
    const waiting = await until('the spinner', (t) =>
      /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for the sign-in to finish in the browser…/.test(t),
    );
    expect(waiting).toContain('Open this page to sign in: http://127.0.0.1:');
    // The spinner turns: another frame shows a moment later.
    const frame = (t: string) => /([⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]) Waiting/.exec(t)?.[1];
    const first = frame(waiting);
    await until('the spinner to turn', (t) => frame(t) !== undefined && frame(t) !== first, 5000);
    const done = await until('the end', (t) => t.includes('exit='));
    expect(done).toContain('✔ Signed in to Test AS as alice@example.test');
    expect(done).toContain('exit=0');
    expect(done).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting/);

    start('status', ['status'], env);
    const status = await until('status', (t) => t.includes('exit='), 30_000, 'status');
    expect(status).toContain('exit=0');
    expect(status).toMatch(
      /test-as {2}alice@example\.test {2}scopes: openid email read {2}expires in \d+ min {2}can refresh/,
    );
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { createCipheriv, createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isLatchkeyError } from '../src/errors.js';
import { fileStore } from '../src/store/file-store.js';
import { credentialStoreContract } from './store-contract.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/store-child.ts', import.meta.url));
const SOURCE = fileURLToPath(new URL('../src/store/file-store.ts', import.meta.url));
const POSIX = process.platform !== 'win32';
const CANARY = 'CANARY-s3cr3t-7f1e9a';

const temps: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-'));
  temps.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

credentialStoreContract('fileStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-'));
  return {
    store: fileStore({ directory: join(dir, 'store') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

credentialStoreContract('fileStore (encrypted)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-'));
  return {
    store: fileStore({ directory: join(dir, 'store'), encryptionKey: 'contract-key' }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await caught(promise);
  expect(isLatchkeyError(error, code as never), String(error)).toBe(true);
  return error as Error;
}

/** Every message and cause message in an error chain, for leak checks. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    parts.push(current instanceof Error ? `${current.name}: ${current.message}` : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join('\n');
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

const keyLockPath = (directory: string, key: string, name = 'credentials') =>
  join(
    directory,
    `${name}.locks`,
    `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.lock`,
  );

describe('fileStore files', () => {
  it.runIf(POSIX)(
    'creates its folders 0700, one file 0600 per key and its lock folder 0700',
    async () => {
      const directory = join(await tempDir(), 'nested', 'store');
      const store = fileStore({ directory });
      await store.set('credentials/slack/T1', { v: 1 });
      expect(store.path).toBe(join(directory, 'credentials'));
      expect(await mode(directory)).toBe(0o700);
      expect(await mode(store.path)).toBe(0o700);
      const file = join(store.path, 'credentials', 'slack', '%541.json');
      expect(await mode(file)).toBe(0o600);
      expect(await mode(dirname(file))).toBe(0o700);
      await store.lock('k', async () => {
        expect(await stat(keyLockPath(directory, 'k'))).toBeTruthy();
      });
      expect(await mode(join(directory, 'credentials.locks'))).toBe(0o700);
      // Released: no lock and no temporary file left behind.
      expect(await readdir(join(directory, 'credentials.locks'))).toEqual([]);
      expect(await readdir(store.path)).toEqual(['credentials']);
      expect((await readdir(directory)).sort()).toEqual(['credentials', 'credentials.locks']);
    },
  );

  it.runIf(POSIX)('narrows its own existing folder with wider permissions to 0700', async () => {
    const directory = await tempDir();
    await mkdir(join(directory, 'credentials'), { mode: 0o755 });
    await chmod(join(directory, 'credentials'), 0o755);
    const store = fileStore({ directory });
    await store.set('k', { v: 1 });
    expect(await mode(store.path)).toBe(0o700);
  });

  it('writes each key to a file of its own, as tab-indented JSON naming its key', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, name: 'tokens' });
    expect(store.path).toBe(join(directory, 'tokens'));
    await store.set('a.b', { token: 'x' });
    const file = join(store.path, 'a%2eb.json');
    const text = await readFile(file, 'utf8');
    expect(JSON.parse(text)).toEqual({ v: 1, key: 'a.b', value: { token: 'x' } });
    expect(text).toContain('\t"key"');
    expect(() => {
      (store as { path: string }).path = '/elsewhere';
    }).toThrow(TypeError);
  });

  it('keeps keys apart that differ only in case, dots, slashes or length', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory });
    const long = `credentials/p/${'a'.repeat(400)}`;
    const keys = [
      'Alice',
      'alice',
      'con',
      '.',
      '..',
      '',
      'a/b',
      'a%2fb',
      'a/',
      'credentials/p/ünïcödé',
      long,
      `${long}b`,
    ];
    for (const [i, key] of keys.entries()) await store.set(key, { i });
    for (const [i, key] of keys.entries()) expect(await store.get(key)).toEqual({ i });
    expect(await store.list()).toEqual([...keys].sort());
    expect(await store.list('credentials/p/')).toEqual(
      ['credentials/p/ünïcödé', long, `${long}b`].sort(),
    );
    // No name in the folder starts with a dot or holds an upper-case letter.
    const names = await readdir(store.path, { recursive: true });
    expect(names.filter((n) => /(^|[/\\])\.|[A-Z]/.test(n))).toEqual([]);
  });

  it('reads only the folder of the prefix when listing a provider', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory });
    await store.set('credentials/a/x', { v: 1 });
    await store.set('credentials/b/y', { v: 2 });
    await writeFile(join(store.path, 'credentials', 'b', '%7e.json'), 'not json');
    expect(await store.list('credentials/a/')).toEqual(['credentials/a/x']);
    // Listing reads names, not files: the damaged one is listed, and get() reports it.
    expect(await store.list('credentials/')).toEqual([
      'credentials/a/x',
      'credentials/b/y',
      'credentials/b/~',
    ]);
    await expectCode(store.get('credentials/b/~'), 'STORE_CORRUPT');
  });

  it('sees changes made through another instance at once (no caching)', async () => {
    const directory = await tempDir();
    const a = fileStore({ directory });
    const b = fileStore({ directory });
    expect(await a.get('k')).toBeUndefined();
    await b.set('k', { v: 1 });
    expect(await a.get('k')).toEqual({ v: 1 });
    await a.set('k', { v: 2 });
    expect(await b.get('k')).toEqual({ v: 2 });
    await b.delete('k');
    expect(await a.list()).toEqual([]);
  });

  it('rejects invalid options with TypeError', () => {
    expect(() => fileStore({ name: '../x' })).toThrow(TypeError);
    expect(() => fileStore({ name: '' })).toThrow(TypeError);
    expect(() => fileStore({ encryptionKey: '' })).toThrow(TypeError);
    expect(() => fileStore({ lockStaleMs: -1 })).toThrow(TypeError);
    expect(() => fileStore({ directory: '' })).toThrow(TypeError);
  });

  it('needs no package beyond Node itself', async () => {
    const source = await readFile(SOURCE, 'utf8');
    const imports = [...source.matchAll(/from\s+'([^']+)'/g)].map((match) => match[1] as string);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((i) => !i.startsWith('node:') && !i.startsWith('.'))).toEqual([]);
  });
});

describe('fileStore default location', () => {
  const saved = { XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, HOME: process.env.HOME };

  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it.runIf(process.platform === 'linux')(
    'uses $XDG_CONFIG_HOME/latchkey, with no version in the path',
    async () => {
      const xdg = await tempDir();
      process.env.XDG_CONFIG_HOME = xdg;
      const store = fileStore();
      expect(store.path).toBe(join(xdg, 'latchkey', 'credentials'));
      expect(store.path).not.toMatch(/\d+\.\d+/);
      expect(store.path).not.toContain('nodejs');
      await store.set('k', { v: 1 });
      expect(JSON.parse(await readFile(join(store.path, 'k.json'), 'utf8')).value).toEqual({
        v: 1,
      });
      expect(await mode(join(xdg, 'latchkey'))).toBe(0o700);
    },
  );

  it.runIf(process.platform === 'linux')('falls back to ~/.config/latchkey', async () => {
    const home = await tempDir();
    delete process.env.XDG_CONFIG_HOME;
    process.env.HOME = home;
    expect(fileStore().path).toBe(join(home, '.config', 'latchkey', 'credentials'));
    // A relative XDG_CONFIG_HOME is ignored, as the XDG specification says.
    process.env.XDG_CONFIG_HOME = 'relative/dir';
    expect(fileStore({ name: 'other' }).path).toBe(join(home, '.config', 'latchkey', 'other'));
  });

  it.runIf(process.platform === 'darwin')('uses ~/Library/Preferences/latchkey', async () => {
    const home = await tempDir();
    process.env.HOME = home;
    expect(fileStore().path).toBe(join(home, 'Library', 'Preferences', 'latchkey', 'credentials'));
  });
});

describe('fileStore corrupt files', () => {
  const cases: [string, string][] = [
    ['invalid JSON quoting a secret', `{"v": 1, "key": "k", "value": {"token": "${CANARY}"`],
    ['JSON with a bare secret', `{"v": 1, "key": "k", "value": {"token": ${CANARY}}}`],
    ['an empty file', ''],
    ['a JSON array', `[{"token": "${CANARY}"}]`],
    ['JSON null', 'null'],
    ['another key', `{"v": 1, "key": "other", "value": {"token": "${CANARY}"}}`],
    ['a value that is not an object', `{"v": 1, "key": "k", "value": "${CANARY}"}`],
  ];

  for (const [label, contents] of cases) {
    it(`fails with STORE_CORRUPT on that key only, and leaves ${label} byte-for-byte untouched`, async () => {
      const directory = await tempDir();
      const store = fileStore({ directory });
      await store.set('good', { v: 1 });
      const path = join(store.path, 'k.json');
      await writeFile(path, contents);
      const before = await readFile(path);

      const error = await expectCode(store.get('k'), 'STORE_CORRUPT');
      expect(error.message).toContain(path);
      expect(error.message).toMatch(/untouched/);
      expect(error.message).toMatch(/remove the file/);
      expect(errorText(error)).not.toContain('CANARY');
      expect((await readFile(path)).equals(before)).toBe(true);
      // The other keys work, and the damaged one can be replaced or removed.
      expect(await store.get('good')).toEqual({ v: 1 });
      expect(await store.list()).toEqual(['good', 'k']);
      await store.set('k', { v: 2 });
      expect(await store.get('k')).toEqual({ v: 2 });
      await store.delete('k');
      expect(await store.list()).toEqual(['good']);
    });
  }
});

/** A single-file store as earlier releases wrote it (through conf 15), plain or encrypted. */
async function legacyStore(path: string, values: object, encryptionKey?: string) {
  const text = JSON.stringify({ ...values, __internal__: { migrations: {} } }, undefined, '\t');
  if (encryptionKey === undefined) {
    await writeFile(path, text, { mode: 0o600 });
    return;
  }
  const iv = randomBytes(16);
  const key = pbkdf2Sync(encryptionKey, iv, 10_000, 32, 'sha512');
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  await writeFile(path, Buffer.concat([iv, Buffer.from(':'), data, cipher.getAuthTag()]), {
    mode: 0o600,
  });
}

describe('fileStore and the single file of earlier releases', () => {
  it('moves every key into the folder on first use and removes the file', async () => {
    const directory = await tempDir();
    const legacy = join(directory, 'credentials.json');
    await legacyStore(legacy, { 'credentials/a/x': { token: CANARY }, other: { v: 2 } });
    const store = fileStore({ directory });
    expect(await store.list()).toEqual(['credentials/a/x', 'other']);
    expect(await store.get('credentials/a/x')).toEqual({ token: CANARY });
    await expect(stat(legacy)).rejects.toMatchObject({ code: 'ENOENT' });
    // A second instance finds nothing left to move.
    expect(await fileStore({ directory }).get('other')).toEqual({ v: 2 });
  });

  it('moves an encrypted one with its key, and encrypts every value it moves', async () => {
    const directory = await tempDir();
    await legacyStore(join(directory, 'credentials.json'), { k: { token: CANARY } }, 'old key');
    const wrong = fileStore({ directory, encryptionKey: 'another key' });
    const error = await expectCode(wrong.get('k'), 'STORE_CORRUPT');
    expect(error.message).toMatch(/encryptionKey/);
    expect(await readdir(directory)).toContain('credentials.json');
    const store = fileStore({ directory, encryptionKey: 'old key' });
    expect(await store.get('k')).toEqual({ token: CANARY });
    const raw = await readFile(join(store.path, 'k.json'), 'utf8');
    expect(raw).not.toContain(CANARY);
    expect(await readdir(directory)).not.toContain('credentials.json');
  });

  it('finishes a move a killed process left half done, keeping what was written since', async () => {
    const directory = await tempDir();
    await legacyStore(join(directory, 'credentials.json'), {
      a: { v: 'old' },
      b: { v: 'old' },
    });
    // As if a process moved "a", wrote a newer "a", and died before moving "b".
    const early = fileStore({ directory, name: 'credentials' });
    await mkdir(early.path, { recursive: true, mode: 0o700 });
    await writeFile(
      join(early.path, 'a.json'),
      JSON.stringify({ v: 1, key: 'a', value: { v: 'new' } }),
    );
    const store = fileStore({ directory });
    expect(await store.get('a')).toEqual({ v: 'new' });
    expect(await store.get('b')).toEqual({ v: 'old' });
  });

  it('fails with STORE_CORRUPT on a damaged one and leaves it byte-for-byte untouched', async () => {
    const directory = await tempDir();
    const legacy = join(directory, 'credentials.json');
    await writeFile(legacy, `{"k": {"token": "${CANARY}"`);
    const before = await readFile(legacy);
    const store = fileStore({ directory });
    for (const attempt of [() => store.get('k'), () => store.list(), () => store.set('k', {})]) {
      const error = await expectCode(attempt(), 'STORE_CORRUPT');
      expect(error.message).toContain(legacy);
      expect(error.message).toMatch(/move the file aside/);
      expect(errorText(error)).not.toContain('CANARY');
    }
    expect((await readFile(legacy)).equals(before)).toBe(true);
    await rm(legacy);
    await store.set('k', { v: 3 });
    expect(await store.get('k')).toEqual({ v: 3 });
  });

  it('removes the temporary files of writers that died, on the next opening', async () => {
    const directory = await tempDir();
    const first = fileStore({ directory });
    await first.set('k', { v: 1 });
    const dead = join(first.path, `.tmp-${await endedPid()}-abcdef`);
    const live = join(first.path, `.tmp-${process.pid}-abcdef`);
    const conf = join(directory, 'credentials.json.tmp-1700000000000');
    for (const path of [dead, live, conf]) await writeFile(path, CANARY);
    const old = new Date(Date.now() - 120_000);
    await utimes(conf, old, old);
    await fileStore({ directory }).get('k');
    const left = [...(await readdir(first.path)), ...(await readdir(directory))];
    expect(left).not.toContain(basename(dead));
    expect(left).not.toContain(basename(conf));
    // A writer that still runs keeps its file.
    expect(left).toContain(basename(live));
  });
});

describe('fileStore encryption', () => {
  it('keeps secrets out of the files when encrypted, unlike a plain store', async () => {
    const plainDir = await tempDir();
    const plain = fileStore({ directory: plainDir });
    await plain.set('k', { accessToken: CANARY });
    expect(await readFile(join(plain.path, 'k.json'), 'utf8')).toContain(CANARY);

    const directory = await tempDir();
    const encrypted = fileStore({ directory, encryptionKey: 'correct horse' });
    await encrypted.set('k', { accessToken: CANARY });
    const raw = await readFile(join(encrypted.path, 'k.json'));
    expect(raw.includes(CANARY)).toBe(false);
    expect(raw.includes('accessToken')).toBe(false);
    if (POSIX) expect(await mode(join(encrypted.path, 'k.json'))).toBe(0o600);

    // Another instance with the same key (as bytes) reads it back.
    const again = fileStore({
      directory,
      encryptionKey: new TextEncoder().encode('correct horse'),
    });
    expect(await again.get('k')).toEqual({ accessToken: CANARY });
  });

  it('fails with STORE_CORRUPT under a wrong key or no key, and leaves the file untouched', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, encryptionKey: 'right key' });
    await store.set('k', { accessToken: CANARY });
    const file = join(store.path, 'k.json');
    const before = await readFile(file);

    const wrong = fileStore({ directory, encryptionKey: 'wrong key' });
    const error = await expectCode(wrong.get('k'), 'STORE_CORRUPT');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/decrypt/);
    expect(errorText(error)).not.toContain('CANARY');
    const none = fileStore({ directory });
    expect((await expectCode(none.get('k'), 'STORE_CORRUPT')).message).toMatch(/encryptionKey/);
    expect((await readFile(file)).equals(before)).toBe(true);
    expect(await store.get('k')).toEqual({ accessToken: CANARY });
  });

  it('refuses a file moved to another key, since each value is bound to its key', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, encryptionKey: 'key' });
    await store.set('a', { accessToken: CANARY });
    const moved = JSON.parse(await readFile(join(store.path, 'a.json'), 'utf8'));
    await writeFile(join(store.path, 'b.json'), JSON.stringify({ ...moved, key: 'b' }));
    await expectCode(store.get('b'), 'STORE_CORRUPT');
  });

  it('fails with STORE_CORRUPT when a plain file is opened with a key', async () => {
    const directory = await tempDir();
    await fileStore({ directory }).set('k', { v: 1 });
    const file = join(directory, 'credentials', 'k.json');
    const before = await readFile(file);
    const encrypted = fileStore({ directory, encryptionKey: 'key' });
    expect((await expectCode(encrypted.get('k'), 'STORE_CORRUPT')).message).toMatch(
      /without encryption/,
    );
    expect((await readFile(file)).equals(before)).toBe(true);
  });

  it('derives its key once per process, not on every read', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, encryptionKey: 'derive once' });
    await store.set('k', { v: 1 });
    const started = performance.now();
    for (let i = 0; i < 50; i++)
      await fileStore({ directory, encryptionKey: 'derive once' }).get('k');
    // scrypt takes tens of milliseconds; 50 reads that each derived would take seconds.
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});

describe('fileStore I/O errors', () => {
  it('fails with STORE_IO naming the path and errno when the directory cannot be created', async () => {
    const parent = await tempDir();
    await writeFile(join(parent, 'file'), 'not a directory');
    const store = fileStore({ directory: join(parent, 'file', 'store') });
    for (const attempt of [
      () => store.get('k'),
      () => store.set('k', { v: 1 }),
      () => store.lock('k', async () => 1),
    ]) {
      const error = await expectCode(attempt(), 'STORE_IO');
      expect(error.message).toContain(join(parent, 'file', 'store'));
      expect(error.message).toMatch(/ENOTDIR|EEXIST/);
    }
  });

  it('makes the lock folder again, or fails with STORE_IO, when it changed after the first lock', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory });
    const locks = dirname(keyLockPath(directory, 'k'));
    await expect(store.lock('k', async () => 1)).resolves.toBe(1);
    // Removed: made again.
    await rm(locks, { recursive: true });
    await expect(store.lock('k', async () => 2)).resolves.toBe(2);
    // Made read-only: narrowed back to 0700 and used.
    if (POSIX && process.getuid?.() !== 0) {
      await chmod(locks, 0o555);
      await expect(store.lock('k', async () => 3)).resolves.toBe(3);
      expect(await mode(locks)).toBe(0o700);
    }
    // Replaced by a file: STORE_IO naming the folder, not a raw Node.js error.
    await rm(locks, { recursive: true });
    await writeFile(locks, 'not a folder');
    const error = await expectCode(
      store.lock('k', async () => 4),
      'STORE_IO',
    );
    expect(error.message).toContain(locks);
  });

  it('fails with STORE_IO when a key file is a directory', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory });
    await mkdir(join(store.path, 'k.json'), { recursive: true });
    const error = await expectCode(store.get('k'), 'STORE_IO');
    expect(error.message).toContain(join(store.path, 'k.json'));
    expect(error.message).toContain('EISDIR');
  });
});

/** A lock file as a holder writes it. */
function lockFileOf(holder: { pid: number; host?: string; start?: string }): string {
  return JSON.stringify({ host: hostname(), token: 'other-holder', ...holder });
}

/** The pid of a process that has ended. */
async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('close', resolve));
  return child.pid as number;
}

describe('fileStore locks', () => {
  it('takes over at once the lock file of a process that has ended, or of an old pid reused', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, lockStaleMs: 60_000 });
    const lockPath = keyLockPath(directory, 'k');
    await mkdir(dirname(lockPath), { recursive: true });
    await writeFile(lockPath, lockFileOf({ pid: await endedPid() }));
    const started = Date.now();
    await expect(store.lock('k', async () => 'taken', { timeoutMs: 5_000 })).resolves.toBe('taken');
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(stat(lockPath)).rejects.toMatchObject({ code: 'ENOENT' });

    // A running pid that a later process got: its start time is not the holder's.
    if (process.platform === 'linux') {
      await writeFile(lockPath, lockFileOf({ pid: process.pid, start: '1' }));
      await expect(store.lock('k', async () => 'reused', { timeoutMs: 5_000 })).resolves.toBe(
        'reused',
      );
    }

    // Also the store-wide write lock.
    await writeFile(`${store.path}.lock`, lockFileOf({ pid: await endedPid() }));
    await store.set('k', { v: 1 });
    expect(await store.get('k')).toEqual({ v: 1 });
  });

  it('waits for a takeover another process has under way, with the event loop free, and then takes the lock', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, lockStaleMs: 60_000 });
    const lockPath = keyLockPath(directory, 'k');
    await mkdir(dirname(lockPath), { recursive: true });
    // An abandoned lock, and the guard of a running process taking it over.
    await writeFile(lockPath, lockFileOf({ pid: await endedPid() }));
    await writeFile(`${lockPath}.takeover`, lockFileOf({ pid: process.pid }));
    let ticks = 0;
    const ticker = setInterval(() => {
      ticks += 1;
    }, 10);
    try {
      const started = Date.now();
      await expectCode(
        store.lock('k', async () => 'no', { timeoutMs: 300 }),
        'STORE_LOCKED',
      );
      expect(Date.now() - started).toBeLessThan(1_000);
      // The wait let timers run: it did not retry in a loop of file calls.
      expect(ticks).toBeGreaterThanOrEqual(3);
      // The guard and the abandoned file are the other process's to remove.
      await expect(stat(`${lockPath}.takeover`)).resolves.toBeDefined();
      await expect(stat(lockPath)).resolves.toBeDefined();
      // Once that takeover ends, the waiter takes the lock.
      const waiting = store.lock('k', async () => 'taken', { timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await rm(lockPath);
      await rm(`${lockPath}.takeover`);
      await expect(waiting).resolves.toBe('taken');

      // A guard that cannot be read (a dangling link) is waited on, timers still running.
      await writeFile(lockPath, lockFileOf({ pid: await endedPid() }));
      await symlink(join(directory, 'nowhere'), `${lockPath}.takeover`);
      ticks = 0;
      await expectCode(
        store.lock('k', async () => 'no', { timeoutMs: 300 }),
        'STORE_LOCKED',
      );
      expect(ticks).toBeGreaterThanOrEqual(3);
      await rm(`${lockPath}.takeover`);

      // A guard older than lockStaleMs is cleared, though its process still runs.
      const quick = fileStore({ directory, lockStaleMs: 2_000 });
      await writeFile(`${lockPath}.takeover`, lockFileOf({ pid: process.pid }));
      const old = new Date(Date.now() - 60_000);
      await utimes(`${lockPath}.takeover`, old, old);
      await expect(quick.lock('k', async () => 'cleared', { timeoutMs: 5_000 })).resolves.toBe(
        'cleared',
      );
      await expect(stat(`${lockPath}.takeover`)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      clearInterval(ticker);
    }
  });

  it('takes over the lock of a holder on another machine only once it is lockStaleMs old', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, lockStaleMs: 2_000 });
    const lockPath = keyLockPath(directory, 'k');
    await mkdir(dirname(lockPath), { recursive: true });
    await writeFile(lockPath, lockFileOf({ pid: 1, host: 'another-machine' }));
    await expectCode(
      store.lock('k', async () => 'no', { timeoutMs: 300 }),
      'STORE_LOCKED',
    );
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath, old, old);
    await expect(store.lock('k', async () => 'taken', { timeoutMs: 5_000 })).resolves.toBe('taken');
  });

  it('waits for a lock file of a running process and fails with STORE_LOCKED naming it', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, lockStaleMs: 5_000 });
    const lockPath = keyLockPath(directory, 'k');
    await mkdir(dirname(lockPath), { recursive: true });
    await writeFile(lockPath, lockFileOf({ pid: process.pid }));
    let ran = false;
    const markRan = async () => {
      ran = true;
    };
    const started = Date.now();
    const error = await expectCode(store.lock('k', markRan, { timeoutMs: 300 }), 'STORE_LOCKED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(ran).toBe(false);
    expect(error.message).toContain(lockPath);
    expect(error.message).toMatch(/another process/);
    expect(error.message).toContain('5 s');
    // Another key is not affected.
    await expect(store.lock('other', async () => 'ok', { timeoutMs: 300 })).resolves.toBe('ok');
    // Aborting the wait on the file lock gives AUTH_CANCELLED.
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expectCode(
      store.lock('k', markRan, {
        timeoutMs: 10_000,
        signal: controller.signal,
      }),
      'AUTH_CANCELLED',
    );
    expect(ran).toBe(false);
    // The waiter learns of the release as it happens, not at a poll.
    const waiting = store.lock('k', async () => Date.now(), { timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const releasedAt = Date.now();
    await rm(lockPath);
    expect((await waiting) - releasedAt).toBeLessThan(200);
  });

  it('reports a lock lost while held as STORE_LOCKED after fn, without crashing', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, lockStaleMs: 2_000 });
    const lockPath = keyLockPath(directory, 'k');
    let finished = false;
    const error = await expectCode(
      store.lock('k', async () => {
        // Someone replaces the lock file; the holder's next look (after 1 s) notices.
        await writeFile(lockPath, lockFileOf({ pid: process.pid }));
        await new Promise((resolve) => setTimeout(resolve, 1_200));
        finished = true;
        return 'done';
      }),
      'STORE_LOCKED',
    );
    expect(finished).toBe(true);
    expect(error.message).toContain(lockPath);
    expect(error.message).toMatch(/lost/);
    // The other holder's file is left alone.
    expect(await readFile(lockPath, 'utf8')).toContain('other-holder');
    await rm(lockPath);
    await expect(store.lock('k', async () => 'again', { timeoutMs: 1_000 })).resolves.toBe('again');
  });

  it.skipIf(!POSIX)('creates lock files 0600 in 0700 directories, whatever the umask', async () => {
    const directory = await tempDir();
    const previous = process.umask(0);
    try {
      const store = fileStore({ directory: join(directory, 'store') });
      const lockPath = keyLockPath(join(directory, 'store'), 'k');
      await store.lock('k', async () => {
        expect(await mode(lockPath)).toBe(0o600);
        expect(await mode(dirname(lockPath))).toBe(0o700);
      });
      await store.lock('k', async () => {
        await store.set('k', { v: 1 });
      });
      expect(await mode(join(directory, 'store'))).toBe(0o700);
    } finally {
      process.umask(previous);
    }
  });

  it('shares in-process exclusion between instances of the same file', async () => {
    const directory = await tempDir();
    const a = fileStore({ directory });
    const b = fileStore({ directory });
    let active = 0;
    let maxActive = 0;
    const body = async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      await new Promise((resolve) => setTimeout(resolve, 20));
      active -= 1;
    };
    await Promise.all([a.lock('k', body), b.lock('k', body), a.lock('k', body), b.lock('k', body)]);
    expect(maxActive).toBe(1);
  });
});

describe('fileStore across processes', () => {
  const children = new Set<ChildProcess>();

  afterEach(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    children.clear();
  });

  function startChild(args: string[], timeoutMs = 45_000, env: NodeJS.ProcessEnv = {}) {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code, signal) => resolve({ code, signal }));
      },
    );
    const finished = async () => {
      const result = await exited;
      if (result.code !== 0) {
        throw new Error(
          `child ${args.join(' ')} exited with ${result.code ?? result.signal}: ${stderr}`,
        );
      }
      return stdout;
    };
    const waitFor = (text: string, ms = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`child never printed ${text}; stderr: ${stderr}`));
        }, ms);
        const check = () => {
          if (stdout.includes(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout?.on('data', check);
        exited.then(() => {
          if (!stdout.includes(text)) {
            clearTimeout(timer);
            reject(new Error(`child exited before printing ${text}; stderr: ${stderr}`));
          }
        }, reject);
        check();
      });
    return { child, finished, waitFor };
  }

  async function runAll(list: ReturnType<typeof startChild>[]) {
    try {
      return await Promise.all(list.map((c) => c.finished()));
    } catch (error) {
      for (const c of list) c.child.kill('SIGKILL');
      throw error;
    }
  }

  it('keeps every write when 4 processes write 25 different keys each at once', async () => {
    const directory = await tempDir();
    await runAll([0, 1, 2, 3].map((id) => startChild(['write', directory, String(id), '25'])));
    const store = fileStore({ directory });
    const keys = await store.list();
    expect(keys).toHaveLength(100);
    for (const id of [0, 1, 2, 3]) {
      expect(await store.list(`child-${id}/`)).toHaveLength(25);
      expect(await store.get(`child-${id}/key-24`)).toEqual({ id, i: 24 });
    }
  });

  it('counts to exactly 40 when 4 processes increment 10 times each under lock()', async () => {
    const directory = await tempDir();
    await runAll([0, 1, 2, 3].map(() => startChild(['increment', directory, '10'])));
    expect(await fileStore({ directory }).get('counter')).toEqual({ value: 40 });
  });

  it('blocks on a lock held by a live process until that process releases it', async () => {
    const directory = await tempDir();
    const holder = startChild(['hold', directory, 'shared', '2000']);
    await holder.waitFor('locked');
    const store = fileStore({ directory, lockStaleMs: 2_000 });

    // Held, and refreshed by its holder: well past the stale age it still blocks.
    await expectCode(
      store.lock('shared', async () => 'no', { timeoutMs: 3_000 }),
      'STORE_LOCKED',
    );
    expect(holder.child.exitCode).toBeNull();

    const waiting = store.lock('shared', async () => Date.now(), { timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const releaseRequestedAt = Date.now();
    holder.child.stdin?.write('release\n');
    const acquiredAt = await waiting;
    expect(await holder.finished()).toContain('released');
    expect(acquiredAt).toBeGreaterThanOrEqual(releaseRequestedAt);
  });

  it('takes over the lock of a process that was killed at once', async () => {
    const directory = await tempDir();
    const holder = startChild(['hold', directory, 'shared', '2000']);
    await holder.waitFor('locked');
    holder.child.kill('SIGKILL');
    await new Promise((resolve) => holder.child.once('close', resolve));
    const lockPath = keyLockPath(directory, 'shared');
    expect((await stat(lockPath)).isFile()).toBe(true);

    const store = fileStore({ directory, lockStaleMs: 10_000 });
    const started = Date.now();
    await expect(store.lock('shared', async () => 'mine', { timeoutMs: 10_000 })).resolves.toBe(
      'mine',
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(stat(lockPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  for (const snap of [false, true]) {
    it(`loses no login and tears no file when writers are killed at random${snap ? ' (with SNAP set)' : ''}`, async () => {
      const directory = await tempDir();
      const store = fileStore({ directory });
      for (let i = 0; i < 20; i++) await store.set(`k/${i}`, { gen: 0, pid: 0 });
      for (let round = 0; round < 4; round++) {
        const writers = [0, 1, 2].map(() => {
          const env = snap ? { SNAP: '/snap/latchkey-test/1', SNAP_NAME: 'latchkey-test' } : {};
          const c = startChild(['churn', directory, '20'], 30_000, env);
          const closed = new Promise((resolve) => c.child.once('close', resolve));
          return { ...c, closed };
        });
        await Promise.all(writers.map((w) => w.waitFor('writing')));
        // Killed at random moments, mid-write or not.
        for (const w of writers) {
          await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 150));
          w.child.kill('SIGKILL');
        }
        await Promise.all(writers.map((w) => w.closed));
      }
      const after = fileStore({ directory });
      expect(await after.list('k/')).toHaveLength(20);
      const values = [];
      for (let i = 0; i < 20; i++) values.push(await after.get(`k/${i}`));
      for (const value of values) {
        expect(value).toMatchObject({ gen: expect.any(Number), pid: expect.any(Number) });
      }
      // The writers did write: most keys hold a value of theirs, not the first one.
      expect(values.filter((v) => v?.gen !== 0).length).toBeGreaterThan(10);
      // What the killed writers left behind is gone once a store opened the folder.
      expect((await readdir(after.path)).filter((n) => n.startsWith('.'))).toEqual([]);
    });
  }

  it('finishes a move of the single file that a killed process began', async () => {
    const directory = await tempDir();
    const values = Object.fromEntries(
      Array.from({ length: 400 }, (_, i) => [`credentials/p/${i}`, { v: i }]),
    );
    await legacyStore(join(directory, 'credentials.json'), values);
    const mover = startChild(['open', directory]);
    const closed = new Promise((resolve) => mover.child.once('close', resolve));
    await mover.waitFor('opening');
    // Killed once the first keys have moved.
    const folder = join(directory, 'credentials', 'credentials', 'p');
    while ((await readdir(folder).catch(() => [])).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    mover.child.kill('SIGKILL');
    await closed;
    const moved = (await readdir(folder)).length;
    const store = fileStore({ directory });
    expect(await store.list('credentials/p/')).toHaveLength(400);
    for (const i of [0, 199, 399]) expect(await store.get(`credentials/p/${i}`)).toEqual({ v: i });
    await expect(stat(join(directory, 'credentials.json'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(moved).toBeLessThan(400);
  });

  it('never has two holders when 8 processes take over killed holders, 40 times', async () => {
    const directory = await tempDir();
    const log = join(directory, 'holders.log');
    await writeFile(log, '');
    for (let round = 0; round < 5; round++) {
      // The first holder dies holding; the 7 others, all waiting, take over one by one
      // from a holder that was killed, each time all at about the same moment.
      const closed = Array.from({ length: 8 }, () => {
        const { child } = startChild(['die-holding', directory, 'shared', log]);
        return new Promise((resolve) => child.once('close', (_code, signal) => resolve(signal)));
      });
      expect(await Promise.all(closed)).toEqual(Array.from({ length: 8 }, () => 'SIGKILL'));
    }
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(80);
    // Strictly one holder at a time: every enter is followed by the same holder's exit.
    for (let i = 0; i < lines.length; i += 2) {
      const [enter, pid] = (lines[i] as string).split(' ');
      expect(enter).toBe('enter');
      expect(lines[i + 1]).toBe(`exit ${pid}`);
    }
    // No lock file, takeover file or file set aside is left once the last holder's lock is taken over.
    const store = fileStore({ directory });
    await expect(store.lock('shared', async () => 'last', { timeoutMs: 5_000 })).resolves.toBe(
      'last',
    );
    const left = await readdir(dirname(keyLockPath(directory, 'shared')));
    expect(left).toEqual([]);
  }, 120_000);
});

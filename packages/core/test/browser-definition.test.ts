import { describe, expect, it } from 'vitest';
import {
  type BrowserCookie,
  type BrowserPage,
  type BrowserStrategy,
  type BrowserStrategyDefinition,
  cookieRule,
  defineProvider,
  expressionRule,
  extractWith,
  isLatchkeyError,
  localStorageJsonRule,
  localStorageRule,
} from '../src/index.js';
import { navigationAllowed } from '../src/strategies/browser/allowlist.js';

const token = localStorageRule({ key: 'token' });

function define(strategy: Partial<BrowserStrategyDefinition>, extra: object = {}) {
  return defineProvider({
    id: 'web',
    strategy: {
      kind: 'browser',
      startUrl: 'https://app.example/login',
      extract: { accessToken: token },
      ...strategy,
    } as BrowserStrategyDefinition,
    ...extra,
  });
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isLatchkeyError(error, 'PROVIDER_CONFIG')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected PROVIDER_CONFIG');
}

function page(state: {
  url?: string;
  cookies?: Partial<BrowserCookie>[];
  storage?: Record<string, string>;
  values?: Record<string, unknown>;
}): BrowserPage {
  return {
    url: () => state.url ?? 'https://app.example/',
    cookies: async () =>
      (state.cookies ?? []).map((c) => ({
        name: 'n',
        value: 'v',
        domain: 'app.example',
        path: '/',
        httpOnly: false,
        secure: true,
        ...c,
      })),
    localStorage: async (key) => state.storage?.[key],
    evaluate: async (expression) => state.values?.[expression],
    userAgent: async () => 'UA',
  };
}

describe('browser provider definitions', () => {
  it('fills in defaults: the start URL host as allowlist, 5 min, 30 s, 1 s, no scopes', () => {
    const strategy = define({}).strategy as BrowserStrategy;
    expect(strategy).toMatchObject({
      kind: 'browser',
      startUrl: 'https://app.example/login',
      allowedHosts: ['app.example'],
      timeoutMs: 300_000,
      incompleteTimeoutMs: 30_000,
      pollIntervalMs: 1000,
      scopes: [],
    });
    expect(typeof strategy.extract).toBe('function');
    expect(Object.isFrozen(strategy)).toBe(true);
    const local = define({ startUrl: 'http://127.0.0.1:4100/' }).strategy as BrowserStrategy;
    expect(local.allowedHosts).toEqual(['127.0.0.1:4100']);
  });

  it.each([
    [{ startUrl: 'http://app.example/' }, 'strategy.startUrl'],
    [{ startUrl: 'not a url' }, 'strategy.startUrl'],
    [{ allowedHosts: [] }, 'strategy.allowedHosts'],
    [{ allowedHosts: ['https://app.example'] }, 'strategy.allowedHosts[0]'],
    [{ allowedHosts: ['app.example', 'App.Example'] }, 'strategy.allowedHosts[1]'],
    [{ allowedHosts: ['other.example'] }, 'strategy.allowedHosts'],
    [{ allowedHosts: ['app.example:99999'] }, 'strategy.allowedHosts[0]'],
    [{ extract: undefined }, 'strategy.extract'],
    [{ extract: {} }, 'strategy.extract.accessToken'],
    [{ extract: { accessToken: 'token' } }, 'strategy.extract.accessToken'],
    [{ extract: { accessToken: token, secrets: { d: {} } } }, 'strategy.extract.secrets.d'],
    [{ extract: { accessToken: token, metadata: [] } }, 'strategy.extract.metadata'],
    [{ extract: { accessToken: token, tokenType: '' } }, 'strategy.extract.tokenType'],
    [{ validate: 'yes' }, 'strategy.validate'],
    [{ timeoutMs: 0 }, 'strategy.timeoutMs'],
    [{ incompleteTimeoutMs: 1.5 }, 'strategy.incompleteTimeoutMs'],
    [{ pollIntervalMs: 1 }, 'strategy.pollIntervalMs'],
    [{ scopes: ['read'] }, 'strategy.scopes'],
  ])('rejects %o naming %s', (strategy, field) => {
    expect(configError(() => define(strategy as never))).toContain(`"${field}"`);
  });

  it('rejects identify (validate names the account) and an unknown kind', () => {
    expect(configError(() => define({}, { identify: () => ({ account: 'a' }) }))).toContain(
      '"identify"',
    );
    expect(configError(() => define({ kind: 'bogus' as never }))).toContain('"browser"');
  });

  it('rule helpers throw TypeError on misuse', () => {
    expect(() => cookieRule({ name: '', domain: 'a' })).toThrow(TypeError);
    expect(() => localStorageJsonRule({ key: 'k', path: 'a.*.*' })).toThrow(TypeError);
    expect(() => localStorageJsonRule({ key: 'k', path: '' })).toThrow(TypeError);
    expect(() => expressionRule({ expression: 'x', pattern: 'x' as never })).toThrow(TypeError);
  });
});

describe('navigation allowlist', () => {
  const hosts = ['slack.com', '*.slack.com', '127.0.0.1:4100'];
  it.each([
    ['https://slack.com/signin', true],
    ['https://slack.com:8443/', true],
    ['https://app.slack.com/client/T1', true],
    ['https://a.b.slack.com/', true],
    ['https://evilslack.com/', false],
    ['https://slack.com.evil.example/', false],
    ['http://slack.com/', false],
    ['http://127.0.0.1:4100/x', true],
    ['http://127.0.0.1:4101/x', false],
    ['https://user:pw@slack.com/', false],
    ['javascript:alert(1)', false],
    ['data:text/html,hi', false],
    ['file:///etc/passwd', false],
    ['about:blank', true],
    ['not a url', false],
  ])('%s → %s', (url, allowed) => {
    expect(navigationAllowed(url, hosts)).toBe(allowed);
  });
});

describe('extraction rules', () => {
  const signal = new AbortController().signal;

  it('cookieRule matches name and domain (dot or not), HttpOnly, decodes, keeps the expiry', async () => {
    const rule = cookieRule({ name: 'd', domain: '.slack.com', httpOnly: true, decode: true });
    expect(rule.description).toBe('cookie "d" on slack.com');
    const read = (cookies: Partial<BrowserCookie>[]) => rule.read(page({ cookies }), {});
    expect(await read([{ name: 'd', domain: 'other.com', httpOnly: true }])).toBeUndefined();
    expect(await read([{ name: 'd', domain: '.slack.com', httpOnly: false }])).toBeUndefined();
    expect(
      await read([
        { name: 'd', value: 'xoxd-a%2Fb', domain: 'slack.com', httpOnly: true, expiresAt: 5 },
      ]),
    ).toEqual({ value: 'xoxd-a/b', expiresAt: 5 });
  });

  it('localStorageJsonRule picks the requested account, the only one, or the default one', async () => {
    const rule = localStorageJsonRule({
      key: 'cfg',
      path: 'teams.*.token',
      defaultAccountAt: 'last',
    });
    const two = page({
      storage: {
        cfg: JSON.stringify({ last: 'T2', teams: { T1: { token: 'a' }, T2: { token: 'b' } } }),
      },
    });
    expect(await rule.read(two, { account: 'T1' })).toEqual({ value: 'a', account: 'T1' });
    expect(await rule.read(two, { account: 'T3' })).toBeUndefined();
    expect(await rule.read(two, {})).toEqual({ value: 'b', account: 'T2' });
    const one = page({
      storage: { cfg: JSON.stringify({ teams: { T1: { token: 'a' }, T2: {} } }) },
    });
    expect(await rule.read(one, {})).toEqual({ value: 'a', account: 'T1' });
    expect(await rule.read(page({ storage: { cfg: '{not json' } }), {})).toBeUndefined();
    // Keys with dots need the array form; inherited properties are never read.
    const dotted = localStorageJsonRule({ key: 'cfg', path: ['a.b', 'c'] });
    expect(await dotted.read(page({ storage: { cfg: '{"a.b":{"c":7}}' } }), {})).toEqual({
      value: '7',
    });
    const proto = localStorageJsonRule({ key: 'cfg', path: 'constructor.name' });
    expect(await proto.read(page({ storage: { cfg: '{}' } }), {})).toBeUndefined();
  });

  it('localStorageJsonRule fails with ACCOUNT_AMBIGUOUS without a way to choose', async () => {
    const rule = localStorageJsonRule({ key: 'cfg', path: 'teams.*.token' });
    const two = page({ storage: { cfg: '{"teams":{"T1":{"token":"a"},"T2":{"token":"b"}}}' } });
    await expect(rule.read(two, {})).rejects.toSatisfy((e) =>
      isLatchkeyError(e, 'ACCOUNT_AMBIGUOUS'),
    );
  });

  it('extractWith: nothing, partial (naming what is missing), complete with earliest expiry', async () => {
    const extract = extractWith({
      accessToken: localStorageRule({ key: 'token', pattern: /^tok-/ }),
      secrets: {
        d: cookieRule({ name: 'd', domain: 'app.example' }),
        e: cookieRule({ name: 'e', domain: 'app.example' }),
      },
      metadata: { title: expressionRule({ expression: 'document.title' }) },
      tokenType: 'session',
    });
    expect(await extract(page({}), { signal })).toBeUndefined();
    expect(await extract(page({ storage: { token: 'placeholder' } }), { signal })).toBeUndefined();
    expect(await extract(page({ cookies: [{ name: 'd', value: 'D' }] }), { signal })).toEqual({
      missing: ['localStorage "token"', 'cookie "e" on app.example'],
    });
    expect(
      await extract(
        page({
          storage: { token: 'tok-1' },
          cookies: [
            { name: 'd', value: 'D', expiresAt: 2000 },
            { name: 'e', value: 'E', expiresAt: 1000 },
          ],
          values: { 'document.title': 'Home' },
        }),
        { signal },
      ),
    ).toEqual({
      accessToken: 'tok-1',
      secrets: { d: 'D', e: 'E' },
      metadata: { title: 'Home' },
      expiresAt: 1000,
      tokenType: 'session',
    });
  });
});

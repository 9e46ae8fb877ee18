import { describe, expect, it } from 'vitest';
import * as main from '../src/index.js';
import * as oauth from '../src/oauth.js';
import * as sdkV1 from '../src/sdk-v1.js';
import * as sdkV2 from '../src/sdk-v2.js';
import * as storeAuthors from '../src/store-authors.js';
import * as testing from '../src/testing.js';

const BUILDING_BLOCKS = [
  'createAuthorizationRequest',
  'validateCallback',
  'resolveAuthorizationServer',
  'startLoopbackListener',
  'exchangeAuthorizationCode',
  'refreshCredentials',
  'revokeCredentials',
  'credentialsForNewLogin',
  'bearerChallenge',
  'discoverProtectedResource',
  'discoverAuthorizationServer',
  'discoverLegacyAuthorizationServer',
  'protectedResourceMetadataUrls',
  'authorizationServerMetadataUrls',
  'canonicalResource',
  'resourceCovers',
];

describe('public surface', () => {
  it('keeps the orchestrators and what hosts and provider authors use on @latchkey/core', () => {
    expect(Object.keys(main).sort()).toEqual(
      [
        'LATCHKEY_ERROR_CODES',
        'LatchkeyError',
        'Secret',
        'accounts',
        'authenticate',
        'authorizedFetch',
        'cookieRule',
        'credentialFetch',
        'defineProvider',
        'defineServer',
        'endpointProblem',
        'expressionRule',
        'extractWith',
        'fileStore',
        'finishSignIn',
        'forget',
        'isLatchkeyError',
        'keychainKey',
        'localStorageJsonRule',
        'localStorageRule',
        'mcpAuthProvider',
        'memoryStore',
        'openSystemBrowser',
        'remoteServer',
        'safeStorageKey',
        'serverCommand',
        'signInWithBrowser',
        'spawnDescription',
        'startSignIn',
        'userStore',
      ].sort(),
    );
  });

  it('has the step-by-step building blocks on @latchkey/core/oauth only', () => {
    expect(Object.keys(oauth).sort()).toEqual([...BUILDING_BLOCKS].sort());
    for (const name of BUILDING_BLOCKS) expect(main).not.toHaveProperty(name);
  });

  it('has launchServer() on the entry for each MCP SDK line only', () => {
    expect(Object.keys(sdkV1)).toEqual(['launchServer']);
    expect(Object.keys(sdkV2)).toEqual(['launchServer']);
    expect(sdkV1.launchServer).not.toBe(sdkV2.launchServer);
    expect(main).not.toHaveProperty('launchServer');
  });

  it('has the store contract suite on @latchkey/core/testing only', () => {
    expect(Object.keys(testing)).toEqual(['storeContractCases']);
    expect(main).not.toHaveProperty('storeContractCases');
  });

  it('has the lock building blocks for store packages on @latchkey/core/store only', () => {
    const blocks = [
      'DEFAULT_LOCK_TIMEOUT_MS',
      'SETTLED_WHILE_WAITING',
      'cancelledError',
      'createKeyedMutex',
      'formatSeconds',
      'resolveLockTimeout',
      'throwIfAborted',
    ];
    expect(Object.keys(storeAuthors).sort()).toEqual(blocks);
    for (const name of blocks) expect(main).not.toHaveProperty(name);
    expect(storeAuthors.SETTLED_WHILE_WAITING).toBe(
      Symbol.for('@latchkey/core.lock.settledWhileWaiting'),
    );
  });

  it('lists every error code once', () => {
    const codes = Object.keys(main.LATCHKEY_ERROR_CODES) as main.LatchkeyErrorCode[];
    expect(codes.length).toBeGreaterThan(30);
    for (const code of codes) {
      expect(main.LATCHKEY_ERROR_CODES[code].length).toBeGreaterThan(10);
      expect(main.isLatchkeyError(new main.LatchkeyError(code, 'x'), code)).toBe(true);
    }
    const forged = Object.assign(new Error('x'), { name: 'LatchkeyError', code: 'NOT_A_CODE' });
    expect(main.isLatchkeyError(forged)).toBe(false);
  });
});

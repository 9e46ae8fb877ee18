// A remote MCP server that moves to another authorization server, met by a sign-in that
// does not come from a session's 401 (forceLogin, or wider scopes): the old login is
// marked as moved under the login lock, so later calls find one current login.
import { startMcpAuthServer, startMcpServer } from '@latchkey/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { credentialKey, mcpAccountName } from '../src/credentials.js';
import { authenticate, mcpAuthProvider, memoryStore } from '../src/index.js';
import { unattendedUser } from './helpers.js';

const closing: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(closing.map((c) => c.close()));
});

describe('an MCP server that moved, met by a new sign-in', () => {
  it.each([
    ['forceLogin', { forceLogin: true }],
    ['wider scopes', { scopes: ['mcp:write'] }],
  ] as const)(
    '%s: the old login is kept apart, and the next call is not ambiguous',
    async (_name, extra) => {
      const as1 = await startMcpAuthServer();
      const as2 = await startMcpAuthServer();
      const mcp = await startMcpServer({ authorizationServers: [as1.issuer] });
      closing.push(as1, as2, mcp);
      const provider = mcpAuthProvider(mcp.url, { allowHttpLoopback: true });
      const store = memoryStore();
      const signIn = { store, openUrl: unattendedUser().openUrl, timeoutMs: 20_000 };
      await authenticate(provider, signIn);
      mcp.moveTo(as2.issuer);

      const moved = await authenticate(provider, { ...signIn, ...extra });
      expect(moved.current().engine).toMatchObject({ issuer: as2.issuer });
      const oldKey = credentialKey(provider.id, mcpAccountName(as1.issuer) as string);
      expect((await store.get(oldKey))?.engine).toMatchObject({ movedTo: as2.issuer });

      const next = await authenticate(provider, {
        store,
        interactive: false,
        ...('scopes' in extra ? extra : {}),
      });
      expect(next.account).toBe(mcpAccountName(as2.issuer));
    },
  );
});

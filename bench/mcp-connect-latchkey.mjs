// Benchmark 7, Latchkey's side: one connect in a process that loads the built
// @latchkey/core and @latchkey/core/sdk-v1 and nothing else (core loads the MCP SDK's
// client modules itself, on the first launch, as it does in a host). Arguments: cold|warm|expired mcpUrl storeDirectory.
// Prints one JSON line: `ms` from the first call (store reads included) to the tools/list
// answer, the number of tools, and when the token held at the end expires.
import { report, settle, unattendedUser } from './mcp-connect-user.mjs';

// An optional fourth argument sets the provider's dpop option (auto, require, refuse).
const [scenario, mcpUrl, storePath, dpop] = process.argv.slice(2);

await report(async () => {
  const [core, { launchServer }] = await Promise.all([
    import('@latchkey/core'),
    import('@latchkey/core/sdk-v1'),
  ]);
  let outcome;
  const t0 = performance.now();
  const session = await core.authenticate(
    core.mcpAuthProvider(mcpUrl, { allowHttpLoopback: true, ...(dpop ? { dpop } : {}) }),
    {
      store: core.fileStore({ directory: storePath }),
      timeoutMs: 20_000,
      openUrl: (url) => {
        if (scenario !== 'cold') throw new Error(`a sign-in was started in the ${scenario} case`);
        outcome = unattendedUser(url);
        outcome.catch(() => {});
      },
    },
  );
  const server = await launchServer(core.remoteServer(mcpUrl), session, {
    clientInfo: { name: 'bench', version: '1.0.0' },
  });
  const { tools } = await server.client.listTools();
  const ms = performance.now() - t0;
  await outcome;
  await settle();
  await server.close();
  return { ms, tools: tools.length, expiresAt: session.current().expiresAt };
});

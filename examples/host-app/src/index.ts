// Host app: sign in once, run two existing MCP servers from npm with that login, list
// their tools, and show what a host that spawns servers itself gets instead.
//
// It signs in to an authorization server embedded in this program, so it runs anywhere,
// offline; a scripted user completes the sign-in. A real host leaves `openUrl` out (the
// system browser opens) or passes its own (Electron's `shell.openExternal`).
import {
  authenticate,
  defineProvider,
  isLatchkeyError,
  memoryStore,
  type ServerEvent,
  spawnDescription,
} from '@latchkey/core';
import { type LaunchedServer, launchServer } from '@latchkey/core/sdk-v1';
import { completeAuthorization, startAuthServer } from '@latchkey/testkit';
import { DRIVE_READONLY, everythingServer, gdriveServer } from './recipes.js';

const auth = await startAuthServer({ extraScopes: [DRIVE_READONLY] });
const servers: LaunchedServer[] = [];
try {
  const provider = defineProvider({
    id: 'google-stand-in',
    name: 'Embedded stand-in for Google',
    strategy: {
      kind: 'oauth',
      issuer: auth.issuer,
      clientId: auth.clients.public.clientId,
      scopes: ['openid', 'email', DRIVE_READONLY],
    },
  });
  const session = await authenticate(provider, {
    store: memoryStore(),
    openUrl: (url) => {
      void completeAuthorization(url).catch((error: unknown) => console.error(error));
    },
  });
  console.log(`Signed in as ${session.account}.`);

  // Every server gets only what its recipe injects, plus a safe default environment.
  // Their stderr arrives as events, with every credential value masked.
  const onEvent = (event: ServerEvent) => {
    if (event.type === 'server_stderr') console.log(`  [${event.serverId}] ${event.line}`);
  };
  const launches = await Promise.allSettled(
    [everythingServer(), gdriveServer()].map((recipe) =>
      launchServer(recipe, session, { onEvent }),
    ),
  );
  for (const launch of launches) if (launch.status === 'fulfilled') servers.push(launch.value);
  for (const launch of launches) if (launch.status === 'rejected') throw launch.reason;

  for (const server of servers) {
    const { tools } = await server.client.listTools();
    console.log(`\n${server.serverId} (pid ${server.pid}): ${tools.length} tools`);
    console.log(`  ${tools.map((tool) => tool.name).join(', ')}`);
  }

  // A host that runs servers its own way (a container, a utility process) asks for the
  // spawn description instead: command, arguments, environment, files.
  const description = await spawnDescription(gdriveServer(), session);
  console.log(`\nTo run gdrive yourself: ${description.command} ${description.args.join(' ')}`);
  console.log(`  with its token file at ${description.files.join(', ')}`);
  console.log(`  and GDRIVE_CREDENTIALS_PATH=${description.env.GDRIVE_CREDENTIALS_PATH}`);
  await description.dispose();
} catch (error) {
  if (!isLatchkeyError(error)) throw error;
  console.error(`${error.code}: ${error.message}`);
  process.exitCode = 1;
} finally {
  await Promise.all(servers.map((server) => server.close()));
  await auth.close();
}

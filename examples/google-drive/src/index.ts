// Signs in with your Google account and runs a Google MCP server with that login:
//
//   GOOGLE_CLIENT_ID=… GOOGLE_CLIENT_SECRET=… npm start -w @latchkey/example-google-drive -- [gdrive|gmail|workspace] [search words]
//
// Create the OAuth client ("Desktop app") first: docs/guides/provider-google.md. The
// login is stored in your user config directory, so the browser opens only the first time.
import { authenticate, fileStore, isLatchkeyError, type ServerEvent } from '@latchkey/core';
import { type LaunchedServer, launchServer } from '@latchkey/core/sdk-v1';
import { googleProvider } from '@latchkey/provider-google';
import { isServerName, SERVERS } from './servers.js';

const clientId = process.env.GOOGLE_CLIENT_ID;
const clientSecret = process.env.GOOGLE_CLIENT_SECRET;
const tokenExchange = process.env.GOOGLE_TOKEN_EXCHANGE_URL;
if (!clientId || !(clientSecret || tokenExchange)) {
  const missing = [
    ...(clientId ? [] : ['GOOGLE_CLIENT_ID']),
    ...(clientSecret || tokenExchange
      ? []
      : ['GOOGLE_CLIENT_SECRET (or GOOGLE_TOKEN_EXCHANGE_URL)']),
  ];
  console.error(
    `Missing: ${missing.join(' and ')}.\n\n` +
      'Create an OAuth client of type "Desktop app" in the Google Cloud console\n' +
      '(APIs & Services > Credentials), enable the Google Drive API, and run again with\n' +
      'GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET set. Step by step: docs/guides/provider-google.md',
  );
  process.exit(2);
}
const name = process.argv[2] ?? 'gdrive';
if (!isServerName(name)) {
  console.error(`Unknown server "${name}": choose ${Object.keys(SERVERS).join(', ')}.`);
  process.exit(2);
}
const recipe = SERVERS[name]();

const google = googleProvider({
  clientId,
  ...(tokenExchange ? { tokenExchange } : { clientSecret }),
  scopes: [],
});

let server: LaunchedServer | undefined;
try {
  // Ask for the scopes the server needs: a stored login that has them is reused.
  const session = await authenticate(google, {
    store: fileStore(),
    scopes: recipe.scopes,
    onEvent: (event) => {
      if (event.type === 'authorization_url_opened') console.log(`Sign in at ${event.url}`);
      if (event.type === 'credentials_reused') console.log('Using the stored login.');
    },
  });
  console.log(`Signed in as ${session.account}.`);

  const onEvent = (event: ServerEvent) => {
    if (event.type === 'server_stderr') console.log(`  [${event.serverId}] ${event.line}`);
  };
  server = await launchServer(recipe, session, { onEvent });
  const { tools } = await server.client.listTools();
  console.log(
    `${recipe.name}: ${tools.length} tools: ${tools.map((tool) => tool.name).join(', ')}`,
  );

  const query = process.argv.slice(3).join(' ');
  if (name === 'gdrive' && query) {
    const result = await server.client.callTool({ name: 'search', arguments: { query } });
    for (const part of result.content as { type: string; text?: string }[]) {
      if (part.type === 'text') console.log(part.text);
    }
  }
} catch (error) {
  if (!isLatchkeyError(error)) throw error;
  console.error(`${error.code}: ${error.message}`);
  process.exitCode = 1;
} finally {
  await server?.close();
}

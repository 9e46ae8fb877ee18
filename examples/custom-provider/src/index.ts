// Signs in to GitHub with the provider from ./github.ts and prints who you are.
//
//   GITHUB_CLIENT_ID=... GITHUB_CLIENT_SECRET=... npm start -w @latchkey/example-custom-provider
//
// Register an OAuth app at https://github.com/settings/developers with the callback URL
// http://127.0.0.1/callback (GitHub accepts any port on loopback callbacks).
import { authenticate, fileStore, isLatchkeyError } from '@latchkey/core';
import { githubProvider } from './github.js';

const clientId = process.env.GITHUB_CLIENT_ID;
if (!clientId) {
  console.error(
    'GITHUB_CLIENT_ID is not set. Register an OAuth app on GitHub (callback URL http://127.0.0.1/callback),\n' +
      'then run again with GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET set.',
  );
  process.exit(2);
}

const github = githubProvider({
  clientId,
  ...(process.env.GITHUB_CLIENT_SECRET ? { clientSecret: process.env.GITHUB_CLIENT_SECRET } : {}),
  scopes: ['read:user'],
});

try {
  const session = await authenticate(github, {
    store: fileStore(),
    onEvent: (event) => console.log(`· ${event.type}`),
  });
  const { accessToken } = await session.fresh();
  const response = await fetch('https://api.github.com/user', {
    headers: { authorization: `Bearer ${accessToken.reveal()}` },
  });
  console.log(`Signed in as ${session.account}; /user answered HTTP ${response.status}.`);
} catch (error) {
  if (isLatchkeyError(error)) {
    console.error(`${error.code}: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

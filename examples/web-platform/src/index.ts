// A multi-user web platform (`npm start -w @latchkey/example-web-platform`): open the
// printed address, sign in with any name, connect "Example ID" and "Example MCP" (any
// user name and password work on their sign-in pages), and run an MCP server with the
// account. Sign in with another name in a private window: each user sees only their own
// accounts. The logins live in PostgreSQL: DATABASE_URL, else a throwaway server.
// Ctrl-C stops everything.
import { startPlatform } from './platform.js';

const platform = await startPlatform({
  ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
});
console.log(`The platform runs at ${platform.url}`);
const stop = async () => {
  await platform.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

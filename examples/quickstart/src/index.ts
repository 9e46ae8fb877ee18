// Quickstart (`npm run demo`): sign in to an OAuth server, keep the login, run an MCP
// server with it while the token is refreshed under it, refresh, log out.
//
// It runs against an authorization server embedded in this program (oidc-provider on
// 127.0.0.1), so it needs no account anywhere. With a desktop, your browser opens on
// its login page (any user name and password work). Without one, or with
// `--unattended`, a scripted user completes the sign-in. Access tokens live 10 s here,
// so the refresh that reaches the MCP server happens while you watch. The story itself
// is in ./story.ts.
import { quickstart } from './story.js';

const hasDisplay =
  process.platform === 'darwin' ||
  process.platform === 'win32' ||
  Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const unattended =
  process.argv.includes('--unattended') || !hasDisplay || process.env.CI === 'true';

await quickstart({ unattended });

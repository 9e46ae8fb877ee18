// Signs in to your Slack workspace in a browser window, keeps the session (the xoxc
// token, the d cookie and the browser's User-Agent) in Latchkey's file store, and hands
// it to slack-mcp-server: with --launch it starts the server from npm and lists its
// tools; without, it prints how the server would be started (credential values masked).
//
//   npx tsx examples/slack-browser/src/index.ts [--launch] [--workspace T0123ABCD|acme]
//
// With nothing to sign in with (no browser, no desktop) it says what is missing and
// exits with status 2.
import { puppeteerDriver } from '@latchkey/browser-extract';
import {
  authenticate,
  isLatchkeyError,
  type LatchkeyEvent,
  spawnDescription,
} from '@latchkey/core';
import { launchServer } from '@latchkey/core/sdk-v1';
import { slackBrowserProvider, slackMcpServer } from '@latchkey/provider-slack';
import { missingForSignIn } from './preflight.js';

const argv = process.argv.slice(2);
const launch = argv.includes('--launch');
const workspace = argv[argv.indexOf('--workspace') + 1];

function describeEvent(event: LatchkeyEvent): string {
  switch (event.type) {
    case 'browser_opened':
      return `a browser window opened on ${event.origin}: sign in to Slack there`;
    case 'extraction_incomplete':
      return `still waiting for ${event.missing.join(', ')}`;
    case 'navigation_blocked':
      return `blocked a navigation to ${event.origin} (not Slack)`;
    case 'credentials_reused':
      return `reusing the stored session of ${event.account}`;
    default:
      return event.type.replaceAll('_', ' ');
  }
}

const slack = slackBrowserProvider(argv.includes('--workspace') && workspace ? { workspace } : {});

try {
  const session = await authenticate(slack, {
    // A stored session is reused without a browser; only a new sign-in needs one.
    interactive: false,
    onEvent: (event) => console.log(`· ${describeEvent(event)}`),
  }).catch(async (error: unknown) => {
    if (!isLatchkeyError(error, 'LOGIN_REQUIRED') && !isLatchkeyError(error, 'ACCOUNT_AMBIGUOUS')) {
      throw error;
    }
    const missing = missingForSignIn();
    if (missing.length > 0) {
      console.error('Signing in to Slack needs:');
      for (const line of missing) console.error(`  - ${line}`);
      process.exit(2);
    }
    return authenticate(slack, {
      forceLogin: true,
      // A profile kept per workspace: the next sign-in is one click.
      browser: puppeteerDriver({ profile: 'persistent' }),
      onEvent: (event) => console.log(`· ${describeEvent(event)}`),
    });
  });
  const { metadata } = session.current();
  console.log(`Signed in to ${metadata.teamName} (${session.account}) as ${metadata.user}.`);

  if (launch) {
    const server = await launchServer(slackMcpServer(), session, {
      onEvent: (event) => {
        if (event.type === 'server_stderr') console.log(`  server: ${event.line}`);
      },
    });
    const { tools } = await server.client.listTools();
    console.log(`slack-mcp-server is running with ${tools.length} tools.`);
    await server.close();
  } else {
    // The command and environment slack-mcp-server gets; printing it masks the secrets.
    const description = await spawnDescription(slackMcpServer(), session);
    console.log(JSON.stringify(description, null, 2));
    await description.dispose();
  }
} catch (error) {
  if (!isLatchkeyError(error)) throw error;
  console.error(`${error.code}: ${error.message}`);
  process.exitCode = 1;
}

// The OAuth side: signs in with your Slack app (bot scopes for server-slack), stores the
// login, and starts server-slack from npm with --launch, or prints how it would start.
//
//   SLACK_CLIENT_ID=... SLACK_CLIENT_SECRET=... npx tsx examples/slack-browser/src/oauth.ts [--launch]
//
// Register http://127.0.0.1:53682/slack/callback as a redirect URL of the app first
// (docs/guides/provider-slack.md has a manifest). Without the app's id and secret it
// says what is missing and exits with status 2.
import { authenticate, isLatchkeyError, spawnDescription } from '@latchkey/core';
import { launchServer } from '@latchkey/core/sdk-v1';
import { SLACK_SERVER_BOT_SCOPES, slackProvider, slackServer } from '@latchkey/provider-slack';

const clientId = process.env.SLACK_CLIENT_ID;
const clientSecret = process.env.SLACK_CLIENT_SECRET;
if (!clientId || !clientSecret) {
  console.error(
    'Set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to the credentials of your Slack app (api.slack.com/apps → Basic Information).',
  );
  process.exit(2);
}

const slack = slackProvider({
  clientId,
  clientSecret,
  botScopes: SLACK_SERVER_BOT_SCOPES,
});

try {
  // The system browser opens Slack's consent page once; later runs reuse the login.
  const session = await authenticate(slack, {
    onEvent: (event) => console.log(`· ${event.type.replaceAll('_', ' ')}`),
  });
  console.log(`Installed in ${session.current().metadata.teamName} (${session.account}).`);
  if (process.argv.includes('--launch')) {
    const server = await launchServer(slackServer(), session);
    console.log(`server-slack has ${(await server.client.listTools()).tools.length} tools.`);
    await server.close();
  } else {
    const description = await spawnDescription(slackServer(), session);
    console.log(JSON.stringify(description, null, 2));
    await description.dispose();
  }
} catch (error) {
  if (!isLatchkeyError(error)) throw error;
  console.error(`${error.code}: ${error.message}`);
  process.exitCode = 1;
}

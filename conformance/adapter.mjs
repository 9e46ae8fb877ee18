// The client under test for the MCP conformance suite. It uses Latchkey's public API
// only: authenticate() with an mcp provider, then launchServer(remoteServer(url)),
// which hands back a connected MCP SDK client. The runner passes the server URL as the
// last argument and describes the host's configuration in MCP_CONFORMANCE_CONTEXT.
import { createPrivateKey } from 'node:crypto';
import {
  authenticate,
  isLatchkeyError,
  mcpAuthProvider,
  memoryStore,
  remoteServer,
} from '@latchkey/core';
import { launchServer } from '@latchkey/core/sdk-v1';

const serverUrl = process.argv.at(-1);
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}');

/** What a host would configure, read from the runner's context. */
async function providerOptions() {
  const options = {
    allowHttpLoopback: true,
    clientName: 'Latchkey conformance client',
    clientMetadataUrl: 'https://conformance-test.local/client-metadata.json',
  };
  const machine = scenario.startsWith('auth/client-credentials');
  if (context.private_key_pem) {
    const privateKey = await crypto.subtle.importKey(
      'jwk',
      createPrivateKey(context.private_key_pem).export({ format: 'jwk' }),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    );
    options.clientCredentials = { clientId: context.client_id, privateKey };
  } else if (context.idp_id_token) {
    options.crossAppAccess = {
      idToken: context.idp_id_token,
      idpIssuer: context.idp_issuer,
      idpTokenEndpoint: context.idp_token_endpoint,
      idpClientId: context.idp_client_id,
      clientId: context.client_id,
      clientSecret: context.client_secret,
    };
  } else if (context.client_id && machine) {
    options.clientCredentials = {
      clientId: context.client_id,
      clientSecret: context.client_secret,
    };
  } else if (context.client_id) {
    options.client = { clientId: context.client_id, clientSecret: context.client_secret };
  }
  return options;
}

/** The user's browser: follows the authorization server's redirect back to Latchkey's listener. */
async function openUrl(url) {
  const answer = await fetch(url, { redirect: 'manual' });
  const location = answer.headers.get('location');
  await answer.body?.cancel();
  if (!location)
    throw new Error(`the authorization endpoint answered HTTP ${answer.status} without a redirect`);
  void fetch(new URL(location, url))
    .then((r) => r.body?.cancel())
    .catch(() => {});
}

try {
  const session = await authenticate(mcpAuthProvider(serverUrl, await providerOptions()), {
    store: memoryStore(),
    openUrl,
    timeoutMs: 20_000,
  });
  const server = await launchServer(remoteServer(serverUrl), session);
  const { tools } = await server.client.listTools();
  if (tools.some((tool) => tool.name === 'test-tool')) {
    await server.client.callTool({ name: 'test-tool', arguments: {} });
  }
  await server.close();
  process.exit(0);
} catch (error) {
  console.error(isLatchkeyError(error) ? `${error.code}: ${error.message}` : error);
  process.exit(1);
}

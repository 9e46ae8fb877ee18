import { toLatchkeyError } from '../oauth/errors.js';
import { type BearerChallenge, resourceChallenges } from './challenge.js';
import type { DiscoveryHttp } from './discovery.js';

const PROBE_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'latchkey', version: '0' },
  },
});

/**
 * Sends an MCP `initialize` request without credentials to learn how the server wants
 * to be authorized: the `Bearer` challenge of its `401` (or its `DPoP` challenge, from a
 * server that takes only DPoP-bound tokens), or `undefined` when it answers without one. A session the server opened anyway is closed again.
 *
 * @see https://modelcontextprotocol.io/specification/draft/basic/authorization#authorization-server-location
 */
export async function probeServer(
  serverUrl: string,
  http: DiscoveryHttp,
): Promise<BearerChallenge | undefined> {
  let response: Response;
  try {
    response = await http.fetch(serverUrl, {
      method: 'POST',
      headers: {
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
      },
      body: PROBE_BODY,
      redirect: 'manual',
      ...(http.signal ? { signal: http.signal } : {}),
    });
  } catch (error) {
    throw toLatchkeyError(error, 'the first request to the MCP server');
  }
  await response.body?.cancel();
  const session = response.headers.get('mcp-session-id');
  if (response.ok && session) {
    await http
      .fetch(serverUrl, { method: 'DELETE', headers: { 'mcp-session-id': session } })
      .then((r) => r.body?.cancel())
      .catch(() => {});
  }
  if (response.status !== 401 && response.status !== 403) return undefined;
  const challenges = await resourceChallenges(response);
  return challenges.bearer ?? challenges.dpop;
}

import { createServer } from 'node:net';
import { LatchkeyError } from '../../errors.js';
import { raceAbort } from '../../util/abort.js';
import { parseUrl } from '../../util/url.js';
import type { PasteCallback } from '../types.js';
import { createAuthorizationRequest, validateCallback } from './authorization-request.js';
import type { FlowContext, FlowResult } from './flow-context.js';
import { exchangeAuthorizationCode } from './token-requests.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The paste-back flow for hosts that cannot receive the loopback callback (SSH,
 * containers): the user opens the URL anywhere, and pastes back the address the
 * browser ended on, which carries the code.
 */
export async function runPasteFlow(flow: FlowContext, paste: PasteCallback): Promise<FlowResult> {
  const { signal, redirect } = flow;
  const port = redirect.port || (await freePort());
  const redirectUri = `http://127.0.0.1:${port}${redirect.path}`;
  const context = await flow.contextFor(redirectUri);
  const request = await createAuthorizationRequest(context, {
    redirectUri,
    scopes: flow.scopes,
    params: flow.params,
    signal,
    // The user may open the URL on another device minutes later, after a pushed
    // request's short life (often a minute) has ended: push only where required.
    push: 'required',
  });
  flow.emit({ type: 'waiting_for_paste', url: request.url });
  const pasted = await raceAbort(
    Promise.resolve().then(() => paste(request.url, signal)),
    signal,
  );
  const url = typeof pasted === 'string' ? parseUrl(pasted.trim()) : undefined;
  const expected = new URL(redirectUri);
  if (!url || url.origin !== expected.origin || url.pathname !== expected.pathname) {
    throw new LatchkeyError(
      'CALLBACK_INVALID',
      `The pasted text is not the address the browser was sent to. Copy the whole address starting with ${expected.origin}${expected.pathname} and try again.`,
    );
  }
  flow.emit({ type: 'callback_received' });
  const params = validateCallback(context, request, url);
  return { token: await exchangeAuthorizationCode(context, request, params, signal), context };
}

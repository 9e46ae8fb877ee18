import type { BrowserOpenRequest } from '@latchkey/core';
import type { Browser, CDPSession, Page, Protocol } from 'puppeteer-core';

/** Stops guarding. */
export interface NavigationGuard {
  dispose(): Promise<void>;
}

/**
 * Holds every top-level document request of the sign-in's browser context (the
 * window and the popups it opens) before it is sent, through the DevTools protocol's
 * Fetch domain, and lets it go only when the provider's allowlist accepts its URL.
 * Server redirects are held too, hop by hop. A refused request is answered with
 * 204 No Content, which leaves the page where it was, and reported as
 * `navigation_blocked`. Frames inside a page (captchas, SSO widgets) are not
 * restricted.
 *
 * @see https://chromedevtools.github.io/devtools-protocol/tot/Fetch/
 */
export async function guardNavigations(
  browser: Browser,
  page: Page,
  request: Pick<BrowserOpenRequest, 'allowNavigation' | 'report'>,
): Promise<NavigationGuard> {
  const probe = await page.createCDPSession();
  let contextId: string | undefined;
  try {
    contextId = (await probe.send('Target.getTargetInfo')).targetInfo.browserContextId;
  } finally {
    await probe.detach().catch(() => {});
  }
  const session: CDPSession = await browser.target().createCDPSession();
  // Top-level frames are targets of type page, with the frame id as target id.
  const pageContexts = new Map<string, string | undefined>();
  const contextOfPage = async (frameId: string): Promise<string | undefined | null> => {
    if (!pageContexts.has(frameId)) {
      const { targetInfos } = await session.send('Target.getTargets');
      for (const info of targetInfos) {
        if (info.type === 'page') pageContexts.set(info.targetId, info.browserContextId);
      }
    }
    return pageContexts.has(frameId) ? pageContexts.get(frameId) : null;
  };

  const onPaused = async (event: Protocol.Fetch.RequestPausedEvent): Promise<void> => {
    const { requestId, request: req, frameId } = event;
    try {
      if (!request.allowNavigation(req.url)) {
        const context = await contextOfPage(frameId).catch(() => contextId);
        if (context !== null && context === contextId) {
          await session.send('Fetch.fulfillRequest', {
            requestId,
            responseCode: 204,
            responseHeaders: [{ name: 'cache-control', value: 'no-store' }],
            body: '',
          });
          request.report({ type: 'navigation_blocked', url: req.url });
          return;
        }
      }
      await session.send('Fetch.continueRequest', { requestId });
    } catch {
      // The request or the browser went away meanwhile.
    }
  };
  const listener = (event: Protocol.Fetch.RequestPausedEvent) => {
    void onPaused(event);
  };
  session.on('Fetch.requestPaused', listener);
  await session.send('Fetch.enable', {
    patterns: [{ urlPattern: '*', resourceType: 'Document', requestStage: 'Request' }],
  });
  return {
    async dispose() {
      session.off('Fetch.requestPaused', listener);
      await session.send('Fetch.disable').catch(() => {});
      await session.detach().catch(() => {});
    },
  };
}

import type { Page } from 'puppeteer-core';

/** Collects the pages a browser driver opens (its `onPage` hook), for a test to play the user. */
export function pageCatcher() {
  const waiting: ((page: Page) => void)[] = [];
  const caught: Page[] = [];
  return {
    onPage(page: Page) {
      const next = waiting.shift();
      if (next) next(page);
      else caught.push(page);
    },
    /** The next page the driver opens. */
    next(): Promise<Page> {
      const page = caught.shift();
      if (page) return Promise.resolve(page);
      return new Promise<Page>((resolve) => waiting.push(resolve));
    },
  };
}

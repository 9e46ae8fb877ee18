// watchCookieResponses() against a stand-in page that emits puppeteer's `response` and
// `popup` events, with fake timers: what it reports, how it spaces a flood out, and
// that it lets go of every page and timer. The real browser runs in
// set-cookie-responses.test.ts.
import { EventEmitter } from 'node:events';
import type { BrowserActivity } from '@latchkey/core';
import type { HTTPResponse, Page } from 'puppeteer-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchCookieResponses } from '../src/cookie-responses.js';

const EVENTS = ['response', 'popup', 'close'];

function fakePage() {
  const emitter = new EventEmitter();
  const page = emitter as unknown as Page;
  return {
    page,
    respond(headers: Record<string, string>) {
      emitter.emit('response', { headers: () => headers } as unknown as HTTPResponse);
    },
    open(popup: Page) {
      emitter.emit('popup', popup);
    },
    close() {
      emitter.emit('close');
    },
    listeners: () => EVENTS.map((event) => emitter.listenerCount(event)),
  };
}

function watching(page: Page) {
  const reports: BrowserActivity[] = [];
  const watch = watchCookieResponses(page, (activity) => reports.push(activity), {
    intervalMs: 50,
  });
  return { reports, watch };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('watchCookieResponses', () => {
  it('reports a response with Set-Cookie at once, and ignores one without', () => {
    const p = fakePage();
    const { reports, watch } = watching(p.page);
    p.respond({ 'content-type': 'text/html' });
    expect(reports).toEqual([]);
    p.respond({ 'set-cookie': 'sid=1; HttpOnly' });
    expect(reports).toEqual([{ type: 'cookies_changed' }]);
    watch.dispose();
  });

  it('spaces a flood of responses out to one report per interval, the last after the flood', () => {
    const p = fakePage();
    const { reports, watch } = watching(p.page);
    for (let i = 0; i < 1000; i += 1) {
      p.respond({ 'set-cookie': i % 2 ? '=;;;' : `junk=${i}` });
      if (i % 10 === 9) vi.advanceTimersByTime(1);
    }
    // 1000 responses over 100 ms: the first at once, then one per 50 ms.
    expect(reports).toHaveLength(3);
    vi.advanceTimersByTime(50);
    expect(reports).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
    // After a quiet interval, the next response is reported at once again.
    p.respond({ 'set-cookie': 'sid=2' });
    expect(reports).toHaveLength(4);
    watch.dispose();
  });

  it('watches the popups the page opens until they close', () => {
    const p = fakePage();
    const popup = fakePage();
    const { reports, watch } = watching(p.page);
    p.open(popup.page);
    popup.respond({ 'set-cookie': 'sid=3' });
    expect(reports).toHaveLength(1);
    popup.close();
    expect(popup.listeners()).toEqual([0, 0, 0]);
    vi.advanceTimersByTime(100);
    popup.respond({ 'set-cookie': 'sid=4' });
    expect(reports).toHaveLength(1);
    watch.dispose();
  });

  it('lets go of every page and its pending report when disposed', () => {
    const p = fakePage();
    const popup = fakePage();
    const { reports, watch } = watching(p.page);
    p.open(popup.page);
    p.respond({ 'set-cookie': 'a=1' });
    p.respond({ 'set-cookie': 'a=2' });
    expect(vi.getTimerCount()).toBe(1);
    watch.dispose();
    expect(vi.getTimerCount()).toBe(0);
    expect(p.listeners()).toEqual([0, 0, 0]);
    expect(popup.listeners()).toEqual([0, 0, 0]);
    vi.advanceTimersByTime(100);
    p.respond({ 'set-cookie': 'a=3' });
    expect(reports).toHaveLength(1);
  });
});

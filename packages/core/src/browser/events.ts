/** Progress of a browser sign-in (the `browser` strategy). URLs are reduced to their origin. */
export type BrowserEvent =
  | { type: 'browser_opened'; providerId: string; origin: string }
  | {
      type: 'navigation_blocked';
      providerId: string;
      /** The origin the page tried to go to, outside the provider's allowlist. */
      origin: string;
    }
  | { type: 'login_detected'; providerId: string }
  | { type: 'browser_closed'; providerId: string };

/**
 * Progress of a browser sign-in (the `browser` strategy). Addresses are reduced to
 * their origin, and no event carries a value read from the page.
 */
export type BrowserEvent =
  | {
      type: 'browser_opened';
      providerId: string;
      /** The origin of the sign-in page the window opened. */
      origin: string;
    }
  | {
      type: 'navigation_blocked';
      providerId: string;
      /** The origin the page tried to go to, outside the provider's allowlist. */
      origin: string;
    }
  | {
      type: 'extraction_incomplete';
      providerId: string;
      /** What is still missing, as descriptions (`cookie "d" on slack.com`), never values. */
      missing: readonly string[];
    }
  | { type: 'login_detected'; providerId: string }
  | {
      /** The service rejected the session found; the window stays open for another login. */
      type: 'credentials_rejected';
      providerId: string;
    }
  | { type: 'browser_closed'; providerId: string };

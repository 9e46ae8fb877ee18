import type { CountedEndpoint } from './endpoints.js';

/** Requests seen per endpoint; `token` is keyed by the `grant_type` value as sent. */
export interface RequestCounts {
  token: Record<string, number>;
  revocation: number;
  deviceAuthorization: number;
  discovery: number;
  userinfo: number;
}

/** Key used in `counts().token` when a token request carried no readable `grant_type`. */
export const UNKNOWN_GRANT_TYPE = '(none)';

function emptyCounts(): RequestCounts {
  return { token: {}, revocation: 0, deviceAuthorization: 0, discovery: 0, userinfo: 0 };
}

/** Tallies requests per endpoint for one server. */
export class RequestCounter {
  #counts = emptyCounts();

  /** Records one request. */
  record(endpoint: CountedEndpoint, grantType?: string): void {
    switch (endpoint) {
      case 'token': {
        const key = grantType || UNKNOWN_GRANT_TYPE;
        this.#counts.token[key] = (this.#counts.token[key] ?? 0) + 1;
        break;
      }
      case 'device':
        this.#counts.deviceAuthorization += 1;
        break;
      default:
        this.#counts[endpoint] += 1;
    }
  }

  /** A copy of the current tallies. */
  snapshot(): RequestCounts {
    return { ...this.#counts, token: { ...this.#counts.token } };
  }

  /** Sets every tally back to zero. */
  reset(): void {
    this.#counts = emptyCounts();
  }
}

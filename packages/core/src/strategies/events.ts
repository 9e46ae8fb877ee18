import type { LatchkeyErrorCode } from '../errors.js';

/** Fields every event carries. */
export interface EventBase {
  /** The provider the event is about. */
  providerId: string;
}

/** Progress of sign-in, refresh and logout. */
export type OAuthEvent =
  | (EventBase & { type: 'credentials_reused'; account: string })
  | (EventBase & { type: 'discovery_completed'; issuer: string })
  | (EventBase & { type: 'authorization_url_opened'; url: string })
  | (EventBase & { type: 'waiting_for_callback'; redirectUri: string })
  | (EventBase & {
      type: 'callback_rejected';
      /** Why the request to the loopback listener was turned away. */
      reason:
        | LatchkeyErrorCode
        | 'WRONG_PATH'
        | 'WRONG_HOST'
        | 'WRONG_METHOD'
        | 'TOO_LARGE'
        | 'ALREADY_COMPLETED';
    })
  | (EventBase & { type: 'callback_received' })
  | (EventBase & {
      type: 'device_code_issued';
      /** Where the user goes to approve. */
      verificationUri: string;
      /** The same page with the code filled in, when the server offers it. */
      verificationUriComplete?: string;
      /** The code the user types in; it is meant to be shown. */
      userCode: string;
      /** When the code stops working (epoch ms). */
      expiresAt: number;
    })
  | (EventBase & { type: 'waiting_for_paste'; url: string })
  | (EventBase & { type: 'login_completed'; account: string; scopes: readonly string[] })
  | (EventBase & {
      type: 'scopes_not_granted';
      account: string;
      /** Scopes asked for at sign-in that the server did not grant. */
      scopes: readonly string[];
    })
  | (EventBase & { type: 'token_refreshed'; account: string; expiresAt?: number })
  | (EventBase & { type: 'credentials_adopted'; account: string })
  | (EventBase & { type: 'credentials_dropped'; account: string; reason: LatchkeyErrorCode })
  | (EventBase & { type: 'logged_out'; account: string; revoked: boolean });

/** Progress of the MCP authorization flow (the `mcp` strategy). */
export type McpEvent =
  | {
      type: 'resource_metadata_discovered';
      providerId: string;
      resource: string;
      authorizationServers: readonly string[];
    }
  | {
      type: 'client_registered';
      providerId: string;
      issuer: string;
      method: 'pre-registered' | 'metadata-document' | 'dynamic';
    }
  | { type: 'step_up_requested'; providerId: string; scopes: readonly string[] };

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

/**
 * Progress of signing in, refreshing and logging out, from every strategy. Events never
 * carry secret values: no tokens, codes, verifiers or cookies.
 */
export type SignInEvent = OAuthEvent | McpEvent | BrowserEvent;

/** A provider's event without its `providerId`, as a flow reports it before the id is added. */
export type EventPayload = SignInEvent extends infer E
  ? E extends SignInEvent
    ? Omit<E, 'providerId'>
    : never
  : never;

/** A listener for {@link SignInEvent}s. */
export type SignInEventListener = (event: SignInEvent) => void;

/** Calls `listener` and keeps a throwing listener from breaking the flow. */
export function emit(listener: SignInEventListener | undefined, event: SignInEvent): void {
  if (!listener) return;
  try {
    listener(event);
  } catch {
    // A host's listener must not be able to break authentication.
  }
}

import type { LatchkeyErrorCode } from './errors.js';
import type { ServerEvent } from './launch/events.js';
import type { BrowserEvent } from './strategies/browser/events.js';
import type { McpEvent } from './strategies/mcp/events.js';

/** Fields every event carries. */
export interface EventBase {
  /** The provider the event is about. */
  providerId: string;
}

/**
 * Progress reported through the `onEvent` option, so a host can show what is
 * happening. Events never carry secret values: no tokens, codes, verifiers or cookies.
 */
export type LatchkeyEvent = OAuthEvent | McpEvent | BrowserEvent | ServerEvent;

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
  | (EventBase & { type: 'token_refreshed'; account: string; expiresAt?: number })
  | (EventBase & { type: 'credentials_adopted'; account: string })
  | (EventBase & { type: 'credentials_dropped'; account: string; reason: LatchkeyErrorCode })
  | (EventBase & { type: 'logged_out'; account: string; revoked: boolean });

/** A provider's event without its `providerId`, as a flow reports it before the id is added. */
export type EventPayload =
  Exclude<LatchkeyEvent, ServerEvent> extends infer E
    ? E extends LatchkeyEvent
      ? Omit<E, 'providerId'>
      : never
    : never;

/** A listener for {@link LatchkeyEvent}s. */
export type EventListener = (event: LatchkeyEvent) => void;

/** Calls `listener` and keeps a throwing listener from breaking the flow. */
export function emit(listener: EventListener | undefined, event: LatchkeyEvent): void {
  if (!listener) return;
  try {
    listener(event);
  } catch {
    // A host's listener must not be able to break authentication.
  }
}

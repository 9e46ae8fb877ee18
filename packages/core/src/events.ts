import type { ServerEvent } from './launch/events.js';
import type { SignInEvent } from './strategies/events.js';

/**
 * Progress reported through the `onEvent` options of `authenticate()` and
 * `launchServer()`, so a host can show what is happening. Events never carry secret
 * values: no tokens, codes, verifiers or cookies.
 */
export type LatchkeyEvent = SignInEvent | ServerEvent;

/** A listener for every {@link LatchkeyEvent}; one function can serve both `onEvent` options. */
export type EventListener = (event: LatchkeyEvent) => void;

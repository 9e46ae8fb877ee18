import { endpointProblem, LatchkeyError } from '@latchkey/core';

/** Where Slack lives: `https://slack.com`, `https://slack-gov.com`, or a local fake. */
export interface SlackUrls {
  /** The origin of the sign-in and OAuth pages (`https://slack.com`). */
  readonly base: URL;
  /** The Web API base, ending with `/` (`https://slack.com/api/`). */
  readonly api: URL;
}

/** The Slack origin used when none is given. */
export const SLACK_BASE_URL = 'https://slack.com';

/** Throws `PROVIDER_CONFIG` for a bad Slack URL option. */
export function badOption(field: string, problem: string): never {
  throw new LatchkeyError('PROVIDER_CONFIG', `Slack option "${field}" ${problem}.`);
}

/**
 * Parses a URL option: https, or plain http on a loopback host (for tests), checked by
 * core's {@link endpointProblem}.
 */
export function urlOption(field: string, value: string | undefined, fallback: string): URL {
  const text = value ?? fallback;
  const problem = endpointProblem(text);
  if (problem !== undefined) badOption(field, problem);
  return new URL(text);
}

/** Resolves the Slack origin and Web API base from the options. */
export function slackUrls(options: { baseUrl?: string; apiUrl?: string }): SlackUrls {
  const base = urlOption('baseUrl', options.baseUrl, SLACK_BASE_URL);
  const api = urlOption('apiUrl', options.apiUrl, new URL('/api/', base).href);
  if (!api.pathname.endsWith('/')) api.pathname += '/';
  return { base, api };
}

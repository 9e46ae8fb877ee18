import { checkEndpoint, checkFunction, fail } from '../definition-checks.js';
import { hostPatternOf, hostPatternProblem, navigationAllowed } from './allowlist.js';
import { type ExtractionRule, type ExtractionRules, extractWith } from './rules.js';
import type { BrowserStrategy, BrowserValidator, Extractor } from './types.js';

/** The `browser` strategy as a provider author writes it; {@link defineProvider} fills in defaults. */
export interface BrowserStrategyDefinition {
  kind: 'browser';
  /** The sign-in page to open (https; http only on loopback, for development). */
  startUrl: string;
  /**
   * Hosts top-level navigations may go to: `slack.com` (any port), `127.0.0.1:8080`,
   * or `*.slack.com` (every host under it). Others are blocked and reported as
   * `navigation_blocked`. Default: the start URL's host.
   */
  allowedHosts?: readonly string[];
  /** How to read the session: rules ({@link cookieRule}, {@link localStorageJsonRule}...) or a function. */
  extract: ExtractionRules | Extractor;
  /** Checks the session with one call to the service and names the account. */
  validate?: BrowserValidator;
  /** How long the user has to log in. Default 5 minutes. */
  timeoutMs?: number;
  /**
   * How long to keep waiting once part of the session was found, or the service
   * rejected it, before failing (`EXTRACTION_FAILED`, `INVALID_CREDENTIALS`). Every
   * navigation restarts it. Default 30 s.
   */
  incompleteTimeoutMs?: number;
  /** How often to read the page when the browser reports nothing. Default 1 s. */
  pollIntervalMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_INCOMPLETE_MS = 30_000;
const DEFAULT_POLL_MS = 1000;

function checkRule(field: string, value: unknown): ExtractionRule {
  const rule = value as Partial<ExtractionRule> | null;
  if (
    typeof rule !== 'object' ||
    rule === null ||
    typeof rule.read !== 'function' ||
    typeof rule.description !== 'string'
  ) {
    fail(field, 'must be an extraction rule (cookieRule(), localStorageJsonRule()...)');
  }
  return rule as ExtractionRule;
}

function checkRules(field: string, value: unknown): Record<string, ExtractionRule> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(field, 'must be an object of extraction rules');
  }
  return Object.fromEntries(
    Object.entries(value).map(([name, rule]) => [name, checkRule(`${field}.${name}`, rule)]),
  );
}

function checkExtract(value: unknown): Extractor {
  if (typeof value === 'function') return value as Extractor;
  if (typeof value !== 'object' || value === null) {
    fail(
      'strategy.extract',
      'is required: extraction rules ({ accessToken, secrets }) or a function',
    );
  }
  const rules = value as Partial<ExtractionRules>;
  const accessToken = checkRule('strategy.extract.accessToken', rules.accessToken);
  const secrets = checkRules('strategy.extract.secrets', rules.secrets);
  const metadata = checkRules('strategy.extract.metadata', rules.metadata);
  if (secrets && Object.hasOwn(secrets, '')) {
    fail('strategy.extract.secrets', 'must not use an empty name');
  }
  if (
    rules.tokenType !== undefined &&
    (typeof rules.tokenType !== 'string' || rules.tokenType === '')
  ) {
    fail('strategy.extract.tokenType', 'must be a non-empty string');
  }
  return extractWith({
    accessToken,
    ...(secrets ? { secrets } : {}),
    ...(metadata ? { metadata } : {}),
    ...(rules.tokenType !== undefined ? { tokenType: rules.tokenType } : {}),
  });
}

function checkMs(
  field: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(field, `must be a whole number of milliseconds from ${min} to ${max}`);
  }
  return value;
}

/** Checks a `browser` strategy definition and fills in its defaults. */
export function normalizeBrowser(def: BrowserStrategyDefinition): BrowserStrategy {
  const startUrl = checkEndpoint('strategy.startUrl', def.startUrl);
  if ((def as { scopes?: unknown }).scopes !== undefined) {
    fail('strategy.scopes', 'is not used by the browser strategy: a browser session has no scopes');
  }

  const hosts = def.allowedHosts ?? [hostPatternOf(startUrl)];
  if (!Array.isArray(hosts) || hosts.length === 0) {
    fail('strategy.allowedHosts', 'must be a non-empty array of host names');
  }
  hosts.forEach((host, i) => {
    const problem = hostPatternProblem(host);
    if (problem) fail(`strategy.allowedHosts[${i}]`, problem);
  });
  if (!navigationAllowed(startUrl, hosts)) {
    fail('strategy.allowedHosts', `must allow the start URL's host "${hostPatternOf(startUrl)}"`);
  }

  const extract = checkExtract(def.extract);
  checkFunction('strategy.validate', def.validate);
  const timeoutMs = checkMs('strategy.timeoutMs', def.timeoutMs, DEFAULT_TIMEOUT_MS, 1, 86_400_000);
  const incompleteTimeoutMs = checkMs(
    'strategy.incompleteTimeoutMs',
    def.incompleteTimeoutMs,
    DEFAULT_INCOMPLETE_MS,
    1,
    86_400_000,
  );
  const pollIntervalMs = checkMs(
    'strategy.pollIntervalMs',
    def.pollIntervalMs,
    DEFAULT_POLL_MS,
    10,
    60_000,
  );

  return {
    kind: 'browser',
    startUrl,
    allowedHosts: Object.freeze([...hosts]),
    extract,
    ...(def.validate ? { validate: def.validate } : {}),
    timeoutMs,
    incompleteTimeoutMs,
    pollIntervalMs,
    scopes: Object.freeze([]),
  } satisfies BrowserStrategy;
}

import { LatchkeyError } from '../../errors.js';
import type { BrowserPage } from '../browser-driver.js';
import type { Extraction, Extractor, PartialExtraction } from './types.js';

/** What a rule is told when it reads the page. */
export interface RuleContext {
  /** The account asked for, or the one an earlier rule of the same extraction found. */
  readonly account?: string;
}

/** A value a rule found. */
export interface RuleValue {
  /** The value itself. */
  readonly value: string;
  /** The account the value belongs to, when the rule picked one (a `*` path segment). */
  readonly account?: string;
  /** When the value stops working (epoch ms), for example a cookie's expiry. */
  readonly expiresAt?: number;
}

/** Reads one value from the sign-in page. Make one with {@link cookieRule} and its siblings. */
export interface ExtractionRule {
  /** What the rule reads, for messages (`cookie "d" on slack.com`); never a value. */
  readonly description: string;
  /** Reads the value; `undefined` when it is not there (yet). */
  read(page: BrowserPage, context: RuleContext): Promise<RuleValue | undefined>;
}

/**
 * Declarative extraction: the rules of the values that together make the session.
 * The extraction is complete when `accessToken` and every rule of `secrets` found a
 * value; it is partial while only some did.
 */
export interface ExtractionRules {
  /** The primary secret, stored as the access token. */
  accessToken: ExtractionRule;
  /** The values that must come with it, stored by these names (`{ d: cookieRule(...) }`). */
  secrets?: Record<string, ExtractionRule>;
  /** Non-secret values kept when found; never waited for. */
  metadata?: Record<string, ExtractionRule>;
  /** How the token is sent; default `bearer`. */
  tokenType?: string;
}

/** Options every rule helper takes. */
export interface RuleOptions {
  /** A value counts only when it matches (for example `/^xoxd-/`), so a placeholder is not taken for the session. */
  pattern?: RegExp;
}

function accept(
  value: string | undefined,
  options: RuleOptions,
  extra: Omit<RuleValue, 'value'> = {},
): RuleValue | undefined {
  if (value === undefined || value === '') return undefined;
  if (options.pattern) {
    options.pattern.lastIndex = 0;
    if (!options.pattern.test(value)) return undefined;
  }
  return { value, ...extra };
}

function requireString(helper: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${helper}() needs a non-empty ${field} string`);
  }
  return value;
}

function checkPattern(helper: string, options: RuleOptions): void {
  if (options.pattern !== undefined && !(options.pattern instanceof RegExp)) {
    throw new TypeError(`${helper}() takes a RegExp as pattern`);
  }
}

function bareDomain(domain: string): string {
  return domain.toLowerCase().replace(/^\./, '');
}

/** Options of {@link cookieRule}. */
export interface CookieRuleOptions extends RuleOptions {
  /** The cookie's name. */
  name: string;
  /** Its domain, with or without the leading dot (`slack.com` matches `.slack.com`). */
  domain: string;
  /** Take the cookie only when it is (or is not) HttpOnly. */
  httpOnly?: boolean;
  /** Decode the value with `decodeURIComponent` (cookies are often URL-encoded). Default `false`. */
  decode?: boolean;
}

/**
 * A cookie by name and domain, HttpOnly ones included. Its expiry becomes the
 * session's expiry when it is the earliest of the extraction.
 */
export function cookieRule(options: CookieRuleOptions): ExtractionRule {
  const name = requireString('cookieRule', 'name', options?.name);
  const domain = bareDomain(requireString('cookieRule', 'domain', options.domain));
  checkPattern('cookieRule', options);
  return {
    description: `cookie "${name}" on ${domain}`,
    async read(page) {
      const cookies = await page.cookies();
      for (const cookie of cookies) {
        if (cookie.name !== name || bareDomain(cookie.domain) !== domain) continue;
        if (options.httpOnly !== undefined && cookie.httpOnly !== options.httpOnly) continue;
        let value = cookie.value;
        if (options.decode) {
          try {
            value = decodeURIComponent(value);
          } catch {
            continue;
          }
        }
        const found = accept(
          value,
          options,
          cookie.expiresAt !== undefined ? { expiresAt: cookie.expiresAt } : {},
        );
        if (found) return found;
      }
      return undefined;
    },
  };
}

/** Options of {@link localStorageRule}. */
export interface LocalStorageRuleOptions extends RuleOptions {
  /** The key in the current origin's `localStorage`. */
  key: string;
}

/** The string stored under a key of the current origin's `localStorage`. */
export function localStorageRule(options: LocalStorageRuleOptions): ExtractionRule {
  const key = requireString('localStorageRule', 'key', options?.key);
  checkPattern('localStorageRule', options);
  return {
    description: `localStorage "${key}"`,
    async read(page) {
      return accept(await page.localStorage(key), options);
    },
  };
}

/** Options of {@link localStorageJsonRule}. */
export interface LocalStorageJsonRuleOptions extends RuleOptions {
  /** The key in the current origin's `localStorage`; its value is JSON. */
  key: string;
  /**
   * Where the value is inside the JSON: `'teams.*.token'` or `['teams', '*', 'token']`
   * (the array form for keys holding dots). One segment may be `*`: it stands for the
   * account, and the key it matches names it. With several accounts in the blob, the
   * one the host asked for is taken.
   */
  path: string | readonly string[];
  /**
   * With several accounts and none asked for: the path of a string in the same blob
   * that names the one to take (`'lastActiveTeamId'`). Without it, such a sign-in
   * fails with `ACCOUNT_AMBIGUOUS`.
   */
  defaultAccountAt?: string | readonly string[];
}

function splitPath(helper: string, path: unknown): readonly string[] {
  const segments = typeof path === 'string' ? path.split('.') : path;
  if (
    !Array.isArray(segments) ||
    segments.length === 0 ||
    !segments.every((s) => typeof s === 'string' && s !== '')
  ) {
    throw new TypeError(
      `${helper}() needs a path such as "teams.*.token" or ["teams", "*", "token"]`,
    );
  }
  return segments as readonly string[];
}

function child(node: unknown, key: string): unknown {
  if (typeof node !== 'object' || node === null) return undefined;
  return Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
}

function scalar(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  return undefined;
}

function at(node: unknown, segments: readonly string[]): unknown {
  return segments.reduce<unknown>((n, key) => child(n, key), node);
}

/**
 * A value inside a JSON blob stored in `localStorage` (`teams.<team>.token` in Slack's
 * `localConfig_v2`, for example), picking the requested account when the blob holds
 * several.
 */
export function localStorageJsonRule(options: LocalStorageJsonRuleOptions): ExtractionRule {
  const key = requireString('localStorageJsonRule', 'key', options?.key);
  const segments = splitPath('localStorageJsonRule', options.path);
  const star = segments.indexOf('*');
  if (segments.lastIndexOf('*') !== star) {
    throw new TypeError('localStorageJsonRule() takes at most one "*" in its path');
  }
  const defaultAt =
    options.defaultAccountAt === undefined
      ? undefined
      : splitPath('localStorageJsonRule', options.defaultAccountAt);
  checkPattern('localStorageJsonRule', options);
  const shown = segments.map((s) => (s === '*' ? '<account>' : s)).join('.');
  return {
    description: `localStorage "${key}" at ${shown}`,
    async read(page, context) {
      const raw = await page.localStorage(key);
      if (raw === undefined) return undefined;
      let blob: unknown;
      try {
        blob = JSON.parse(raw);
      } catch {
        return undefined;
      }
      if (star === -1) return accept(scalar(at(blob, segments)), options);

      const parent = at(blob, segments.slice(0, star));
      const rest = segments.slice(star + 1);
      const valueFor = (account: string) =>
        accept(scalar(at(child(parent, account), rest)), options, { account });
      if (context.account !== undefined) return valueFor(context.account);
      if (typeof parent !== 'object' || parent === null) return undefined;
      const found = Object.keys(parent)
        .map(valueFor)
        .filter((v): v is RuleValue => v !== undefined);
      if (found.length <= 1) return found[0];
      const preferred = defaultAt ? scalar(at(blob, defaultAt)) : undefined;
      const chosen = found.find((v) => v.account === preferred);
      if (chosen) return chosen;
      throw new LatchkeyError(
        'ACCOUNT_AMBIGUOUS',
        `The sign-in found several accounts (${found.map((v) => v.account).join(', ')}). Pass the account option to choose one.`,
      );
    },
  };
}

/** Options of {@link expressionRule}. */
export interface ExpressionRuleOptions extends RuleOptions {
  /** A JavaScript expression evaluated in the page; a string, number or boolean result counts. */
  expression: string;
  /** What it reads, for messages (default: the expression). */
  description?: string;
}

/** The value of a JavaScript expression evaluated in the page (`window.appState.apiToken`, for example). */
export function expressionRule(options: ExpressionRuleOptions): ExtractionRule {
  const expression = requireString('expressionRule', 'expression', options?.expression);
  checkPattern('expressionRule', options);
  return {
    description: options.description ?? `the page value ${expression}`,
    async read(page) {
      return accept(scalar(await page.evaluate(expression)), options);
    },
  };
}

/**
 * Makes an {@link Extractor} from {@link ExtractionRules}: the access token first (it
 * may pick the account), then the secrets for the same account, then the metadata.
 */
export function extractWith(rules: ExtractionRules): Extractor {
  const required: [string, ExtractionRule][] = [
    ['', rules.accessToken],
    ...Object.entries(rules.secrets ?? {}),
  ];
  const optional = Object.entries(rules.metadata ?? {});
  return async (page, { account }): Promise<Extraction | PartialExtraction | undefined> => {
    let context: RuleContext = account !== undefined ? { account } : {};
    let expiresAt: number | undefined;
    const found = new Map<string, string>();
    const missing: string[] = [];
    for (const [name, rule] of required) {
      const result = await rule.read(page, context);
      if (result === undefined) {
        missing.push(rule.description);
        continue;
      }
      found.set(name, result.value);
      if (context.account === undefined && result.account !== undefined) {
        context = { account: result.account };
      }
      if (result.expiresAt !== undefined)
        expiresAt = Math.min(expiresAt ?? Infinity, result.expiresAt);
    }
    if (found.size === 0) return undefined;
    if (missing.length > 0) return { missing };
    const metadata: Record<string, string> = {};
    for (const [name, rule] of optional) {
      const result = await rule.read(page, context);
      if (result !== undefined) metadata[name] = result.value;
    }
    const { '': accessToken, ...secrets } = Object.fromEntries(found);
    return {
      accessToken: accessToken as string,
      secrets,
      metadata,
      ...(context.account !== undefined ? { account: context.account } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(rules.tokenType !== undefined ? { tokenType: rules.tokenType } : {}),
    };
  };
}

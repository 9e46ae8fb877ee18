export type { BrowserStrategyDefinition } from '../provider/browser-definition.js';
export { navigationAllowed } from './allowlist.js';
export {
  type CookieRuleOptions,
  cookieRule,
  type ExpressionRuleOptions,
  type ExtractionRule,
  type ExtractionRules,
  expressionRule,
  extractWith,
  type LocalStorageJsonRuleOptions,
  type LocalStorageRuleOptions,
  localStorageJsonRule,
  localStorageRule,
  type RuleContext,
  type RuleOptions,
  type RuleValue,
} from './rules.js';
export { type BrowserSignInOptions, signInWithBrowser } from './sign-in.js';
export type {
  BrowserActivity,
  BrowserCookie,
  BrowserDriver,
  BrowserOpenRequest,
  BrowserPage,
  BrowserStrategy,
  BrowserValidateContext,
  BrowserValidator,
  BrowserWindow,
  ExtractContext,
  Extraction,
  Extractor,
  PartialExtraction,
} from './types.js';

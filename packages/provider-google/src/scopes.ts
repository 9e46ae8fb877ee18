import { LatchkeyError } from '@latchkey/core';

/**
 * Google's scopes by product, by their short names: the part after
 * `https://www.googleapis.com/auth/`. `openid`, `email` and `profile` are the identity
 * scopes of OpenID Connect.
 *
 * @see https://developers.google.com/identity/protocols/oauth2/scopes
 */
export const GOOGLE_SCOPES = Object.freeze({
  identity: ['openid', 'email', 'profile', 'userinfo.email', 'userinfo.profile'],
  gmail: [
    'gmail.readonly',
    'gmail.send',
    'gmail.compose',
    'gmail.modify',
    'gmail.labels',
    'gmail.settings.basic',
  ],
  drive: ['drive', 'drive.readonly', 'drive.file'],
  calendar: ['calendar', 'calendar.readonly', 'calendar.events'],
  docs: ['documents', 'documents.readonly'],
  sheets: ['spreadsheets', 'spreadsheets.readonly'],
  slides: ['presentations', 'presentations.readonly'],
  tasks: ['tasks', 'tasks.readonly'],
  chat: ['chat.messages', 'chat.messages.readonly', 'chat.spaces', 'chat.spaces.readonly'],
  forms: ['forms.body', 'forms.body.readonly', 'forms.responses.readonly'],
} as const);

/** The Google products of {@link GOOGLE_SCOPES}. */
export type GoogleProduct = keyof typeof GOOGLE_SCOPES;

/** A scope of the catalogue, by its short name (`drive.readonly`, `gmail.modify`, `email`...). */
export type GoogleScope = (typeof GOOGLE_SCOPES)[GoogleProduct][number];

/** A scope given as a full URL, for scopes outside the catalogue (`https://mail.google.com/`). */
export type GoogleScopeUrl = `https://${string}`;

/** What `googleProvider({ scopes })` and {@link googleScope} take: a short name or a full URL. */
export type GoogleScopeInput = GoogleScope | GoogleScopeUrl;

const PREFIX = 'https://www.googleapis.com/auth/';
const KNOWN: ReadonlySet<string> = new Set(Object.values(GOOGLE_SCOPES).flat());

/**
 * The scope value Google expects and reports for a short name or a full URL:
 * `drive.readonly` becomes `https://www.googleapis.com/auth/drive.readonly`, `openid`
 * stays `openid`, and `email` and `profile` become their `userinfo.*` URLs, because
 * Google reports them that way among the granted scopes. Throws `PROVIDER_CONFIG` for
 * a name outside the catalogue.
 *
 * @see https://developers.google.com/identity/protocols/oauth2/scopes
 */
export function googleScope(name: GoogleScopeInput): string {
  if (typeof name !== 'string') throw new TypeError('googleScope() takes a scope name string');
  if (name.startsWith('https://') && !/\s/.test(name)) return name;
  if (!KNOWN.has(name)) {
    throw new LatchkeyError(
      'PROVIDER_CONFIG',
      `"${name}" is not a Google scope Latchkey knows. Use a short name such as "drive.readonly" or "gmail.modify", or the scope's full https:// URL.`,
    );
  }
  if (name === 'openid') return name;
  if (name === 'email' || name === 'profile') return `${PREFIX}userinfo.${name}`;
  return `${PREFIX}${name}`;
}

/** The identity scopes every Google login asks for: the account is named by its email. */
export const IDENTITY_SCOPES: readonly string[] = Object.freeze(['openid', googleScope('email')]);

/** Full scope values for `names`, identity scopes first, without duplicates. Internal. */
export function resolveScopes(names: readonly GoogleScopeInput[]): string[] {
  if (!Array.isArray(names)) {
    throw new LatchkeyError(
      'PROVIDER_CONFIG',
      'Provider field "scopes" must be an array of Google scope names.',
    );
  }
  const scopes = names.map((name, i) => {
    try {
      return googleScope(name);
    } catch (error) {
      if (!(error instanceof LatchkeyError)) throw error;
      throw new LatchkeyError('PROVIDER_CONFIG', `Provider field "scopes[${i}]": ${error.message}`);
    }
  });
  return [...new Set([...IDENTITY_SCOPES, ...scopes])];
}

/**
 * Which Google scope includes which, as Google documents them: a login granted the wider
 * scope satisfies a recipe or a request that needs the narrower one (`drive` covers
 * `drive.readonly`, `gmail.modify` covers `gmail.readonly`). Full scope values.
 *
 * @see https://developers.google.com/identity/protocols/oauth2/scopes
 */
export const GOOGLE_SCOPE_IMPLIES: Readonly<Record<string, readonly string[]>> = Object.freeze(
  Object.fromEntries(
    (
      [
        ['drive', ['drive.readonly', 'drive.file']],
        ['gmail.modify', ['gmail.readonly', 'gmail.labels', 'gmail.compose', 'gmail.send']],
        ['gmail.compose', ['gmail.send']],
        ['calendar', ['calendar.readonly', 'calendar.events']],
        ['documents', ['documents.readonly']],
        ['spreadsheets', ['spreadsheets.readonly']],
        ['presentations', ['presentations.readonly']],
        ['tasks', ['tasks.readonly']],
        ['chat.messages', ['chat.messages.readonly']],
        ['chat.spaces', ['chat.spaces.readonly']],
        ['forms.body', ['forms.body.readonly']],
      ] as const
    )
      .map(([wide, narrower]) => [
        googleScope(wide),
        Object.freeze(narrower.map((n) => googleScope(n))),
      ])
      .concat([
        // Full mailbox access covers every Gmail scope.
        ['https://mail.google.com/', Object.freeze(GOOGLE_SCOPES.gmail.map((n) => googleScope(n)))],
      ]),
  ),
);

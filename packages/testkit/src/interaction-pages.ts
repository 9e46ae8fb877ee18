import type { InteractionDetails } from 'oidc-provider';
import { escapeHtml, htmlPage } from './html.js';

/** DOM ids of the 'form' mode pages, for browser-driving tests. */
export const FORM_IDS = {
  loginForm: 'latchkey-login',
  login: 'login',
  password: 'password',
  loginSubmit: 'login-submit',
  consentForm: 'latchkey-consent',
  approve: 'consent-approve',
  deny: 'consent-deny',
} as const;

/** The login page of 'form' mode: a username, a password (any value passes) and buttons. */
export function loginPage(details: InteractionDetails, error?: string): string {
  const action = `/interaction/${encodeURIComponent(details.uid)}`;
  const message = error ? `<p id="error">${escapeHtml(error)}</p>` : '';
  return htmlPage(
    'Sign in',
    `${message}
<p>Sign in to continue to <strong>${escapeHtml(details.params.client_id)}</strong>.</p>
<form id="${FORM_IDS.loginForm}" method="post" action="${escapeHtml(action)}">
  <label>Username <input id="${FORM_IDS.login}" name="login" autocomplete="username" autofocus></label>
  <label>Password <input id="${FORM_IDS.password}" name="password" type="password" autocomplete="current-password"></label>
  <button id="${FORM_IDS.loginSubmit}" type="submit" name="decision" value="login">Sign in</button>
  <button type="submit" name="decision" value="deny">Cancel</button>
</form>`,
  );
}

/** The consent page of 'form' mode: what is asked for, and allow / deny buttons. */
export function consentPage(details: InteractionDetails): string {
  const action = `/interaction/${encodeURIComponent(details.uid)}`;
  const scope = typeof details.params.scope === 'string' ? details.params.scope : '';
  return htmlPage(
    'Authorize',
    `<p><strong>${escapeHtml(details.params.client_id)}</strong> asks for: <code id="scopes">${escapeHtml(scope)}</code></p>
<form id="${FORM_IDS.consentForm}" method="post" action="${escapeHtml(action)}">
  <button id="${FORM_IDS.approve}" type="submit" name="decision" value="approve">Allow</button>
  <button id="${FORM_IDS.deny}" type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

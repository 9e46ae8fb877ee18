import { type ParsedForm, parseForms } from './html-forms.js';
import { type BrowserRequest, LoopbackBrowser, loopbackUrl } from './loopback-browser.js';
import { DEVICE_SUCCESS_ID, ERROR_ID } from './provider-pages.js';

/** Which device authorization to approve: the complete verification URI, or the user code. */
export interface DeviceAuthorizationInput {
  verificationUriComplete?: string;
  userCode?: string;
}

/** Options of {@link completeDeviceAuthorization}. */
export interface CompleteDeviceAuthorizationOptions {
  /** Most HTTP requests to make (default 20). */
  maxSteps?: number;
  /** Timeout of each single request in milliseconds (default 10000). */
  requestTimeoutMs?: number;
}

/** How the user's side of the device flow ended. */
export interface DeviceAuthorizationOutcome {
  /**
   * True when the provider showed its success page; the device grant will then succeed.
   * False when it showed an error (e.g. 'deny' mode: the grant then fails with access_denied).
   */
  approved: boolean;
  status: number;
  finalUrl: string;
}

const INPUT_FORM = 'op.deviceInputForm';
const CONFIRM_FORM = 'op.deviceConfirmForm';

function nextForm(forms: ParsedForm[]): ParsedForm | undefined {
  return (
    forms.find((form) => form.id === INPUT_FORM || form.id === CONFIRM_FORM) ??
    forms.find((form) => form.method === 'POST' && form.fields.has('xsrf'))
  );
}

/**
 * Acts as the user of an RFC 8628 device flow against a test auth server: opens the
 * verification page, submits the user code and the confirmation (with their xsrf tokens) and
 * lets the server's interaction mode sign in and consent. Bounded to `maxSteps` requests.
 */
export async function completeDeviceAuthorization(
  server: { issuer: string },
  input: DeviceAuthorizationInput,
  options: CompleteDeviceAuthorizationOptions = {},
): Promise<DeviceAuthorizationOutcome> {
  const { verificationUriComplete, userCode } = input;
  if (!verificationUriComplete && !userCode) {
    throw new TypeError('pass verificationUriComplete or userCode');
  }
  const maxSteps = options.maxSteps ?? 20;
  const browser = new LoopbackBrowser(options.requestTimeoutMs);
  let target = loopbackUrl(verificationUriComplete ?? new URL('/device', server.issuer));
  let init: BrowserRequest = {};
  for (let step = 0; step < maxSteps; step += 1) {
    const response = await browser.request(target, init);
    if (response.location) {
      target = loopbackUrl(response.location);
      init = {};
      continue;
    }
    const outcome = { status: response.status, finalUrl: response.url.href };
    if (response.body.includes(`id="${DEVICE_SUCCESS_ID}"`)) {
      return { approved: true, ...outcome };
    }
    const failed = response.status !== 200 || response.body.includes(`id="${ERROR_ID}"`);
    const form = failed ? undefined : nextForm(parseForms(response.body));
    if (!form) {
      return { approved: false, ...outcome };
    }
    if (form.id === INPUT_FORM) {
      if (!userCode && !form.fields.get('user_code')) {
        return { approved: false, ...outcome };
      }
      form.fields.set('user_code', form.fields.get('user_code') || userCode || '');
    }
    target = loopbackUrl(form.action ?? response.url, response.url);
    init = { method: 'POST', form: form.fields };
  }
  throw new Error(`device authorization did not finish within ${maxSteps} requests`);
}

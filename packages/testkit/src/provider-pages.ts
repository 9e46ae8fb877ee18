import type { KoaContext } from 'oidc-provider';
import { escapeHtml, htmlPage } from './html.js';

/** Marker id on the device flow success page, used by the device helper. */
export const DEVICE_SUCCESS_ID = 'device-success';

/** Marker id on error pages rendered by the provider. */
export const ERROR_ID = 'error';

function render(ctx: KoaContext, title: string, body: string): void {
  ctx.type = 'html';
  ctx.body = htmlPage(title, body);
}

function errorText(out: unknown): string {
  if (out && typeof out === 'object') {
    const record = out as Record<string, unknown>;
    return [record.error, record.error_description].filter(Boolean).join(': ');
  }
  return '';
}

/** Replacement page renderers for oidc-provider, free of the stock pages' remote web fonts. */
export const providerPages = {
  userCodeInputSource: async (ctx: KoaContext, form: string, out: unknown, err: unknown) => {
    const message = err
      ? `<p id="${ERROR_ID}">${escapeHtml(errorText(out) || 'The code could not be used')}</p>`
      : '<p>Enter the code shown on your device.</p>';
    render(
      ctx,
      'Device sign-in',
      `${message}\n${form}\n<button type="submit" form="op.deviceInputForm">Continue</button>`,
    );
  },

  userCodeConfirmSource: async (
    ctx: KoaContext,
    form: string,
    client: { clientId: string },
    _deviceInfo: unknown,
    userCode: string,
  ) => {
    render(
      ctx,
      'Confirm device',
      `<p>Client <strong>${escapeHtml(client.clientId)}</strong> shows the code <code>${escapeHtml(userCode)}</code>.</p>
${form}
<button id="device-confirm" type="submit" form="op.deviceConfirmForm">Continue</button>
<button id="device-abort" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`,
    );
  },

  successSource: async (ctx: KoaContext) => {
    render(
      ctx,
      'Sign-in complete',
      `<p id="${DEVICE_SUCCESS_ID}">The device is signed in. You can close this page.</p>`,
    );
  },

  renderError: async (ctx: KoaContext, out: unknown) => {
    render(ctx, 'Something went wrong', `<p id="${ERROR_ID}">${escapeHtml(errorText(out))}</p>`);
  },

  logoutSource: async (ctx: KoaContext, form: string) => {
    render(
      ctx,
      'Sign out',
      `${form}\n<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`,
    );
  },

  postLogoutSuccessSource: async (ctx: KoaContext) => {
    render(ctx, 'Signed out', '<p>You are signed out.</p>');
  },
};

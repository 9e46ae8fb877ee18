// The platform's pages: plain HTML, every value escaped.
import type { AuthProvider } from '@latchkey/core';

/** One connected account, as the home page lists it. */
export interface AccountRow {
  readonly providerId: string;
  readonly providerName: string;
  readonly account: string;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}form{display:inline}li{margin:.3rem 0}</style>
</head>
<body>
${body}
</body>
</html>`;
}

export function signInPage(): string {
  return page(
    'Platform: sign in',
    `<h1>Platform</h1>
<form method="post" action="/login">
  <label>Your name <input id="user" name="user" autofocus required></label>
  <button id="sign-in" type="submit">Sign in</button>
</form>`,
  );
}

export function homePage(
  user: string,
  providers: readonly AuthProvider[],
  rows: readonly AccountRow[],
  notice: string | null,
): string {
  const list =
    rows.length === 0
      ? '<p id="no-accounts">No accounts connected yet.</p>'
      : `<ul id="accounts">${rows
          .map(
            (
              r,
            ) => `<li data-provider="${escapeHtml(r.providerId)}" data-account="${escapeHtml(r.account)}">
  <strong>${escapeHtml(r.providerName)}</strong>: <span class="account">${escapeHtml(r.account)}</span>
  <form method="post" action="/run/${encodeURIComponent(r.providerId)}"><input type="hidden" name="account" value="${escapeHtml(r.account)}"><button class="run" type="submit">Run its MCP server</button></form>
  <form method="post" action="/disconnect/${encodeURIComponent(r.providerId)}"><input type="hidden" name="account" value="${escapeHtml(r.account)}"><button class="disconnect" type="submit">Disconnect</button></form>
</li>`,
          )
          .join('\n')}</ul>`;
  const buttons = providers
    .map(
      (p) =>
        `<form method="post" action="/connect/${encodeURIComponent(p.id)}"><button id="connect-${escapeHtml(p.id)}" type="submit">Connect ${escapeHtml(p.name)}</button></form>`,
    )
    .join('\n');
  return page(
    `Platform: ${user}`,
    `<h1>Signed in as <span id="user">${escapeHtml(user)}</span></h1>
<form method="post" action="/logout"><button id="sign-out" type="submit">Sign out</button></form>
${notice ? `<p id="notice">Connected ${escapeHtml(notice)}</p>` : ''}
<h2>Your connected accounts</h2>
${list}
<h2>Connect an account</h2>
${buttons}`,
  );
}

export function toolPage(provider: string, account: string, tool: string, text: string): string {
  return page(
    `Platform: ${tool}`,
    `<h1>${escapeHtml(provider)}: ${escapeHtml(account)}</h1>
<p>The MCP server started with this login answered <code>${escapeHtml(tool)}</code>:</p>
<pre id="tool-result">${escapeHtml(text)}</pre>
<p><a href="/">Back</a></p>`,
  );
}

export function errorPage(code: string, message: string): string {
  return page(
    'Platform: error',
    `<h1>That did not work</h1>
<p><code id="error-code">${escapeHtml(code)}</code> <span id="error-message">${escapeHtml(message)}</span></p>
<p><a href="/">Back</a></p>`,
  );
}

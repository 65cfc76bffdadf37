/** The pages: login, consent, errors that must not redirect, and the device flow's code entry (RFC 8628 §3.3). */
import { createHash } from 'node:crypto';
import { html, layout, Markup } from './html.js';

export function loginPage(p: { action: string; returnTo: string; csrf: string; clientName?: string; username?: string; error?: string }): string {
  return layout('Sign in', html`<h1>Sign in</h1>
${p.clientName !== undefined && html`<p><strong>${p.clientName}</strong> wants to access your account.</p>`}
${p.error !== undefined && html`<p class="error" role="alert">${p.error}</p>`}
<form method="post" action="${p.action}">
<input type="hidden" name="csrf" value="${p.csrf}">
<input type="hidden" name="return_to" value="${p.returnTo}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${p.username ?? ''}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`);
}

export function consentPage(p: {
  action: string; request: string; csrf: string; clientName: string; username: string; scopes: readonly string[];
  /** RFC 8707: the resources (APIs) the request names, shown so the user sees where the tokens go. */
  resources?: readonly string[];
  /** The device flow's consent carries the user code (and shows it) instead of an authorization request. */
  userCode?: string;
}): string {
  return layout('Allow access', html`<h1>Allow access?</h1>
${p.userCode !== undefined && html`<p>Code <strong class="code">${p.userCode}</strong>: allow only if your device shows this code and you started the sign-in on it.</p>`}
<p><strong>${p.clientName}</strong> asks to act for you, <strong>${p.username}</strong>, with:</p>
${p.scopes.length > 0 ? html`<ul>${p.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul>` : html`<p>no particular scope.</p>`}
${p.resources !== undefined && p.resources.length > 0 && html`<p>at:</p><ul>${p.resources.map((r) => html`<li><code>${r}</code></li>`)}</ul>`}
<form method="post" action="${p.action}">
<input type="hidden" name="csrf" value="${p.csrf}">
<input type="hidden" name="${p.userCode !== undefined ? 'user_code' : 'request'}" value="${p.request}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`);
}

/** OpenID Connect RP-Initiated Logout 1.0 §2: the user is asked before being signed out. */
export function logoutPage(p: { action: string; request: string; csrf: string; username?: string | undefined; clientName?: string | undefined }): string {
  return layout('Sign out', html`<h1>Sign out?</h1>
${p.clientName !== undefined && html`<p><strong>${p.clientName}</strong> asks to sign you out.</p>`}
${p.username !== undefined && html`<p>You are signed in as <strong>${p.username}</strong>.</p>`}
<form method="post" action="${p.action}">
<input type="hidden" name="csrf" value="${p.csrf}">
<input type="hidden" name="request" value="${p.request}">
<button type="submit" name="decision" value="logout">Sign out</button>
<button type="submit" name="decision" value="stay" class="secondary">Stay signed in</button>
</form>`);
}

/** After sign-out (or staying signed in) when no post_logout_redirect_uri was given. */
export function signedOutPage(p: { signedOut: boolean }): string {
  return p.signedOut
    ? layout('Signed out', html`<h1>You are signed out</h1><p>You can close this window.</p>`)
    : layout('Still signed in', html`<h1>You are still signed in</h1><p>You can close this window.</p>`);
}

/** RFC 6749 §4.1.2.1: without a trustworthy redirect URI the error is shown to the user. */
export function errorPage(p: { error: string; description: string }): string {
  return layout('Cannot continue', html`<h1>This request cannot continue</h1>
<p class="error" role="alert">${p.description}</p>
<p>Error code: <code>${p.error}</code>. Go back to the application you came from and try again,
or tell its developers.</p>`);
}

/** RFC 8628 §3.3: where the user types the code their device shows (prefilled from verification_uri_complete). */
export function deviceCodePage(p: { action: string; csrf: string; username: string; userCode?: string; error?: string }): string {
  return layout('Connect a device', html`<h1>Connect a device</h1>
<p>Signed in as <strong>${p.username}</strong>. Enter the code shown on your device.</p>
${p.error !== undefined && html`<p class="error" role="alert">${p.error}</p>`}
<form method="post" action="${p.action}">
<input type="hidden" name="csrf" value="${p.csrf}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" required autofocus value="${p.userCode ?? ''}" placeholder="XXXX-XXXX">
<button type="submit">Continue</button>
</form>`);
}

/** After the user's decision: the device gets its answer by polling, the user goes back to it. */
export function deviceDonePage(p: { approved: boolean; clientName: string }): string {
  return p.approved
    ? layout('Device connected', html`<h1>Device connected</h1>
<p role="status"><strong>${p.clientName}</strong> can now act for you. Return to your device.</p>`)
    : layout('Access denied', html`<h1>Access denied</h1>
<p role="status"><strong>${p.clientName}</strong> was not given access. You can close this page.</p>`);
}

/** The one script a page runs: the form post response posting itself. */
const FORM_POST_SCRIPT = 'document.forms[0].submit()';
/** The script's CSP source expression (CSP3 hash-source), so the page's policy allows it and nothing else. */
export const FORM_POST_SCRIPT_HASH = `sha256-${createHash('sha256').update(FORM_POST_SCRIPT).digest('base64')}`;

/**
 * OAuth 2.0 Form Post Response Mode §2: the authorization response as a form that the browser
 * posts to the client's redirect URI at once (a button if scripts are off).
 */
export function formPostPage(p: { action: string; fields: readonly (readonly [string, string])[] }): string {
  return layout('Returning to the application', html`<h1>Returning to the application</h1>
<form method="post" action="${p.action}">
${p.fields.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<noscript><button type="submit">Continue</button></noscript>
</form>
<script>${new Markup(FORM_POST_SCRIPT)}</script>`);
}

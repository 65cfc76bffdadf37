/**
 * Where an authorization response goes and how (RFC 6749 §3.1.2, §4.1.2, §4.2.2; the response
 * modes of OAuth 2.0 Multiple Response Type Encoding Practices and Form Post), and the page
 * endpoints' errors (§4.1.2.1): until client_id and redirect_uri are known to be good the user
 * sees an error page and is never redirected (no open redirector); after that, errors go back to
 * the client's redirect URI.
 */
import { OAuthError } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { html, redirect } from '../http/respond.js';
import type { Handler, PlainResponse } from '../http/types.js';
import { errorPage, FORM_POST_SCRIPT_HASH, formPostPage } from '../pages/pages.js';

/** Where an authorization response goes (§3.1.2), and how. */
export interface Reply {
  redirectUri: string;
  /**
   * The code grant answers in the query unless the request asked otherwise (response_mode); the
   * implicit grant always in the fragment (§4.2.2).
   */
  mode: 'query' | 'fragment' | 'form_post';
  state: string | undefined;
}

/** An error the client should hear about at its redirect URI (§4.1.2.1, §4.2.2.1). */
export class RedirectError extends Error {
  constructor(readonly reply: Reply, readonly oauth: OAuthError) {
    super(oauth.message);
  }
}

/**
 * Sends the response to the client's redirect URI (§3.1.2), with `state` when the request had one
 * (§4.1.2) and `iss` (RFC 9207, against mix-up attacks, RFC 9700 §4.4): in the query, keeping the
 * URI's own query, or the fragment, by a redirect; or, for `form_post` (OAuth 2.0 Form Post
 * Response Mode §2), as a form the browser posts to the redirect URI at once.
 */
export function answer(config: ServerConfig, reply: Reply, values: Record<string, string | undefined>, status: 302 | 303): PlainResponse {
  const fields = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...values, state: reply.state, iss: config.issuer })) {
    if (v !== undefined) fields.set(k, v);
  }
  if (reply.mode === 'form_post') {
    // Form Post §2: the page posts itself; the only script the page may run is that one.
    return html(200, formPostPage({ action: reply.redirectUri, fields: [...fields] }), {
      'content-security-policy': `default-src 'none'; script-src '${FORM_POST_SCRIPT_HASH}'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'`,
    });
  }
  const url = new URL(reply.redirectUri);
  if (reply.mode === 'fragment') url.hash = fields.toString();
  else for (const [k, v] of fields) url.searchParams.set(k, v);
  return redirect(url.toString(), {}, status);
}

/** Runs `check`; an OAuthError it throws goes back to the client's redirect URI. */
export function toClient<T>(reply: Reply, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw err instanceof OAuthError ? new RedirectError(reply, err) : err;
  }
}

/** Turns the errors of a page endpoint into a redirect to the client or an error page. */
export function pageErrors(config: ServerConfig, handler: Handler): Handler {
  return async (req) => {
    try {
      return await handler(req);
    } catch (err) {
      if (err instanceof RedirectError) {
        // RFC 6749 §4.1.2.1: the same error and description as a JSON error, in the same character set.
        return answer(config, err.reply, err.oauth.toJSON(), req.method === 'POST' ? 303 : 302);
      }
      if (err instanceof OAuthError) {
        return html(err.status === 401 ? 400 : err.status, errorPage({ error: err.error, description: err.error_description ?? err.error }));
      }
      throw err;
    }
  };
}


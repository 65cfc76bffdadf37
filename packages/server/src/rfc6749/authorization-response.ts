/**
 * Where an authorization response goes and how (RFC 6749 §3.1.2, §4.1.2, §4.2.2), and the page
 * endpoints' errors (§4.1.2.1): until client_id and redirect_uri are known to be good the user
 * sees an error page and is never redirected (no open redirector); after that, errors go back to
 * the client's redirect URI.
 */
import { OAuthError } from '@tessera/core';
import type { ServerConfig } from '../config.js';
import { html, redirect } from '../http/respond.js';
import type { Handler } from '../http/types.js';
import { errorPage } from '../pages/pages.js';

/** Where an authorization response goes (§3.1.2), and how. */
export interface Reply {
  redirectUri: string;
  /** §4.2.2: the implicit grant answers in the fragment; the code grant in the query. */
  fragment: boolean;
  state: string | undefined;
}

/** An error the client should hear about at its redirect URI (§4.1.2.1, §4.2.2.1). */
export class RedirectError extends Error {
  constructor(readonly reply: Reply, readonly oauth: OAuthError) {
    super(oauth.message);
  }
}

/**
 * The redirect URI with the response added, keeping the URI's own query (§3.1.2), plus `state`
 * when the request had one (§4.1.2) and `iss` (RFC 9207, against mix-up attacks, RFC 9700 §4.4).
 */
export function replyUrl(config: ServerConfig, reply: Reply, values: Record<string, string | undefined>): string {
  const url = new URL(reply.redirectUri);
  const add = reply.fragment ? new URLSearchParams() : url.searchParams;
  for (const [k, v] of Object.entries({ ...values, state: reply.state, iss: config.issuer })) {
    if (v !== undefined) add.set(k, v);
  }
  if (reply.fragment) url.hash = add.toString();
  return url.toString();
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
        return redirect(replyUrl(config, err.reply, err.oauth.toJSON()), {}, req.method === 'POST' ? 303 : 302);
      }
      if (err instanceof OAuthError) {
        return html(err.status === 401 ? 400 : err.status, errorPage({ error: err.error, description: err.error_description ?? err.error }));
      }
      throw err;
    }
  };
}


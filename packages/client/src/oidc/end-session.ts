/** The RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0 §2). */
import { ConfigurationError } from '../errors.js';
import { checkUrl, type HttpOptions } from '../http.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';

export interface EndSessionParameters {
  /** RECOMMENDED: the ID Token the client got, naming the user and the client. */
  id_token_hint?: string;
  client_id?: string;
  /** Where the server may send the browser afterwards: registered for the client, or it will not. */
  post_logout_redirect_uri?: string;
  state?: string;
  logout_hint?: string;
  ui_locales?: string;
}

/** §2: end_session_endpoint with the parameters in its query (its own query kept). */
export function buildEndSessionUrl(as: AuthorizationServer, parameters: EndSessionParameters, options: HttpOptions = {}): URL {
  if (as.end_session_endpoint === undefined) throw new ConfigurationError('the server metadata has no end_session_endpoint');
  const url = checkUrl(as.end_session_endpoint, options);
  for (const [name, value] of Object.entries(parameters)) if (value !== undefined) url.searchParams.set(name, value);
  return url;
}

/** The UserInfo endpoint (OpenID Connect Core 1.0 §5.3) as a request/process pair. */
import { ConfigurationError, InvalidResponseError } from '../errors.js';
import { checkResponse, type HttpOptions, readJson, send } from '../http.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';

/** §5.3.2: `sub` always; the rest as the scopes granted release them. */
export interface UserInfo {
  sub: string;
  name?: string;
  email?: string;
  email_verified?: boolean;
  [claim: string]: unknown;
}

/**
 * §5.3.1: GET with the access token as a Bearer token (RFC 6750 §2.1), or, for a DPoP-bound token
 * (`tokenType` DPoP, with `options.dpop`), as a DPoP one with its proof (RFC 9449 §7.1).
 */
export function userinfoRequest(as: AuthorizationServer, accessToken: string, options: HttpOptions = {}, tokenType = 'Bearer'): Promise<Response> {
  if (as.userinfo_endpoint === undefined) throw new ConfigurationError('the server metadata has no userinfo_endpoint');
  const dpop = options.dpop !== undefined && tokenType.toLowerCase() === 'dpop';
  const authorization = `${dpop ? 'DPoP' : 'Bearer'} ${accessToken}`;
  return send(as.userinfo_endpoint, { method: 'GET', headers: { authorization, accept: 'application/json' }, redirect: 'manual' }, options, dpop ? accessToken : undefined);
}

/**
 * §5.3.2, §5.3.4: a JSON object whose `sub` MUST equal the ID Token's (token substitution
 * otherwise). Errors (RFC 6750 §3) become OAuthResponseError with the WWW-Authenticate challenge.
 */
export async function processUserInfoResponse(response: Response, expectedSubject: string): Promise<UserInfo> {
  await checkResponse(response, 200);
  const body = await readJson(response);
  if (body.sub !== expectedSubject) throw new InvalidResponseError('userinfo sub does not match the ID Token sub', response.status);
  return body as UserInfo;
}

/**
 * Discovery: RFC 8414 authorization server metadata, or OpenID Connect Discovery 1.0, as a
 * request/process pair plus `discover()` which does both.
 */
import { ConfigurationError, IssuerMismatchError } from '../errors.js';
import { checkResponse, checkUrl, type HttpOptions, readJson, requireString, send } from '../http.js';
import type { AuthorizationServer, EndpointName } from './metadata.js';

export type DiscoveryAlgorithm = 'oauth2' | 'oidc';

/** The well-known URL for an issuer. */
export function discoveryUrl(issuer: string, algorithm: DiscoveryAlgorithm = 'oauth2'): URL {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
  // OIDC Discovery §4: it is appended to the issuer.
  url.pathname = algorithm === 'oauth2' ? `/.well-known/oauth-authorization-server${path}` : `${path}/.well-known/openid-configuration`;
  return url;
}

/** GET the metadata document (RFC 8414 §3.1). */
export function discoveryRequest(issuer: string, options: HttpOptions & { algorithm?: DiscoveryAlgorithm } = {}): Promise<Response> {
  checkUrl(issuer, options);
  return send(discoveryUrl(issuer, options.algorithm), { method: 'GET', headers: { accept: 'application/json' }, redirect: 'manual' }, options);
}

/** Validates the metadata response (RFC 8414 §3.2, §3.3). */
export async function processDiscoveryResponse(expectedIssuer: string, response: Response): Promise<AuthorizationServer> {
  await checkResponse(response, 200);
  const body = await readJson(response);
  const issuer = requireString(body, 'issuer', response.status);
  // RFC 8414 §3.3: the issuer in the document MUST be identical to the one the URL was built from.
  if (issuer !== expectedIssuer) throw new IssuerMismatchError(`metadata issuer ${issuer} is not ${expectedIssuer}`);
  return body as AuthorizationServer;
}

/** Fetches and validates an issuer's metadata. */
export async function discover(issuer: string, options: HttpOptions & { algorithm?: DiscoveryAlgorithm } = {}): Promise<AuthorizationServer> {
  return processDiscoveryResponse(issuer, await discoveryRequest(issuer, options));
}

/** The named endpoint, or a ConfigurationError saying the server does not offer it. */
export function endpoint(as: AuthorizationServer, name: EndpointName): string {
  const url = as[name];
  if (typeof url !== 'string') throw new ConfigurationError(`the authorization server's metadata has no ${name}`);
  return url;
}

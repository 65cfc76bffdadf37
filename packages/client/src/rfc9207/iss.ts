/** RFC 9207: the `iss` authorization response parameter, against mix-up attacks (RFC 9700 §4.4). */
import { IssuerMismatchError } from '../errors.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';

/**
 * RFC 9207 §2.4: when the response carries `iss`, it MUST equal the issuer the request was sent
 * to; when the server's metadata promises `iss`, a response without it MUST be rejected.
 */
export function checkIssuer(as: AuthorizationServer, iss: string | undefined): void {
  if (iss === undefined) {
    if (as.authorization_response_iss_parameter_supported === true) {
      throw new IssuerMismatchError('the authorization response has no iss, though the server promises one (RFC 9207)');
    }
    return;
  }
  if (iss !== as.issuer) throw new IssuerMismatchError(`the authorization response comes from ${iss}, not ${as.issuer}`);
}

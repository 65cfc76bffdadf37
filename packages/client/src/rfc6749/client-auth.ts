/**
 * Client authentication (RFC 6749 §2.3), applied to the body and headers of a request to the
 * token, revocation, introspection or device authorization endpoint. A client uses one method
 * per request (§2.3). private_key_jwt lives in rfc7523/.
 */
import { formEncode } from '../encoding.js';
import type { AuthorizationServer } from '../rfc8414/metadata.js';

export interface Client {
  client_id: string;
}

/** Adds the client's credentials to a request. */
export type ClientAuth = (as: AuthorizationServer, client: Client, body: URLSearchParams, headers: Headers) => void | Promise<void>;

/**
 * client_secret_basic (RFC 6749 §2.3.1): HTTP Basic with the id and secret each
 * form-urlencoded first, so ':' and non-ASCII characters survive.
 */
export function clientSecretBasic(clientSecret: string): ClientAuth {
  return (_as, client, _body, headers) => {
    headers.set('authorization', `Basic ${btoa(`${formEncode(client.client_id)}:${formEncode(clientSecret)}`)}`);
  };
}

/** client_secret_post (RFC 6749 §2.3.1): the id and secret in the form; Basic is preferred. */
export function clientSecretPost(clientSecret: string): ClientAuth {
  return (_as, client, body) => {
    body.set('client_id', client.client_id);
    body.set('client_secret', clientSecret);
  };
}

/** none: a public client identifies itself with client_id only (RFC 6749 §2.1, §3.2.1). */
export function none(): ClientAuth {
  return (_as, client, body) => {
    body.set('client_id', client.client_id);
  };
}

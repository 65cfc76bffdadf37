/**
 * The request_uri of a pushed authorization request (RFC 9126 §2.2): a URN around the reference
 * value the engine returned, and back at the authorization endpoint (§4) the parameters it
 * stands for.
 */
import { OAuthError, readParams } from '@tessera/core';
import type { LifecycleEngine } from '../lifecycle/engine.js';

/** RFC 9126 §2.2: the URN namespace of request_uri values. */
const PREFIX = 'urn:ietf:params:oauth:request_uri:';

export const requestUriFor = (value: string): string => PREFIX + value;

const unknown = () => new OAuthError('invalid_request_uri', 'This authorization request has expired or is not known here. Go back to the application and start again.');

/**
 * The pushed request a request_uri names (none: the request has no request_uri). RFC 9126 §4:
 * client_id comes with it and must be the client that pushed it; any other parameter sent beside
 * it is ignored.
 */
export async function pushedRequest(engine: LifecycleEngine, params: URLSearchParams): Promise<{ value: string; params: URLSearchParams; at: number } | undefined> {
  const { request_uri, client_id } = readParams(params, ['request_uri', 'client_id'] as const);
  if (request_uri === undefined) return undefined;
  if (client_id === undefined) throw new OAuthError('invalid_request', 'The request names no client (client_id is missing).');
  if (!request_uri.startsWith(PREFIX)) throw unknown();
  const value = request_uri.slice(PREFIX.length);
  const pushed = await engine.pushedRequest(client_id, value);
  if (pushed === undefined) throw unknown();
  return { value, params: new URLSearchParams(pushed.params), at: pushed.createdAt };
}

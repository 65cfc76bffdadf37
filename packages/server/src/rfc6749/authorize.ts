/** STUB: the authorization endpoint (RFC 6749 §4.1, §4.2) with login and consent pages. */
import { OAuthError } from '@tessera/core';
import type { LifecycleEngine } from '../lifecycle/engine.js';
import type { PlainRequest, PlainResponse } from '../http/types.js';

const notYet = (_engine: LifecycleEngine) => async (_req: PlainRequest): Promise<PlainResponse> => {
  throw new OAuthError('temporarily_unavailable', 'not implemented yet');
};
export const authorizationEndpoint = notYet;
export const loginEndpoint = notYet;
export const consentEndpoint = notYet;

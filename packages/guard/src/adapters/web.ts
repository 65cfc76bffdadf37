/** The plain Web adapter: a fetch-API Request in, a GuardResult out; a refusal as a Response. */
import type { Guard } from '../guard.js';
import type { GuardFailure, GuardResult } from '../result.js';

/** Verifies the request's Authorization header (RFC 6750 §2.1). */
export function verifyRequest(guard: Guard, request: Request, requiredScopes: readonly string[] = []): Promise<GuardResult> {
  return guard.verify(request.headers.get('authorization'), requiredScopes);
}

/** The refusal as a Response: status, WWW-Authenticate (RFC 6750 §3) and a JSON body. */
export function failureResponse(failure: GuardFailure): Response {
  return new Response(JSON.stringify(failure.body), { status: failure.status, headers: { ...failure.headers, 'content-type': 'application/json' } });
}

/** @tessera/guard: access-token verification for resource servers (bearer and DPoP), with the revocation feed. */
export { createGuard } from './guard.js';
export type { Guard, GuardRequest, GuardStatus } from './guard.js';
export { defaults } from './options.js';
export type { GuardEndpoints, GuardLogger, GuardOptions } from './options.js';
export {
  GuardClosedError,
  GuardConfigurationError,
  GuardCredentialsError,
  GuardError,
  GuardForbiddenError,
  GuardUnavailable,
  GuardUnreachableError,
  IssuerMismatchError,
} from './errors.js';
export type { GuardErrorCode, GuardFailure, GuardResult, VerifiedToken } from './result.js';
export type { FeedEvent } from './revocations.js';
export { verifyRequest, failureResponse } from './adapters/web.js';

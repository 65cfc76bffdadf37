export { OAuthError, toOAuthError } from './errors.js';
export type { OAuthErrorCode, OAuthErrorOptions } from './errors.js';
export { readParams, required, parseBasicAuth, basicChallenge } from './form.js';
export { parseScope, formatScope, normalizeScope, isSubset } from './scope.js';
export type { WireEvent, WireEventType } from './revocation-feed.js';

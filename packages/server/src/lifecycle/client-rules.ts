/**
 * The rules a client registration must keep across its fields, checked on the whole registration
 * (as created, or as it would be after a change) by every way of registering a client an operator
 * has: `tessera client create|update` and the admin API. Each answer is a sentence naming the
 * fields the way the caller's user knows them (`--redirect-uri` on the command line,
 * `redirect_uris` in JSON). RFC 7591 registration has its own checks (rfc7591/client-metadata.ts).
 */
import { registeredJwksUri } from '../rfc7523/client-jwks.js';
import { UNPRINTABLE } from './user-rules.js';
import { type ClientAuthMethod, type ClientRecord, DEVICE_CODE_GRANT, type GrantType, TOKEN_EXCHANGE_GRANT, type TokenFormat } from '../store/types.js';

/**
 * DEVICE_CODE_GRANT: RFC 8628's urn:ietf:params:oauth:grant-type:device_code, TOKEN_EXCHANGE_GRANT
 * RFC 8693's urn:ietf:params:oauth:grant-type:token-exchange, named as on the wire.
 */
export const GRANT_TYPES = [
  'authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit', DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT,
] as const satisfies readonly GrantType[];
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'client_secret_jwt', 'none'] as const satisfies readonly ClientAuthMethod[];
export const TOKEN_FORMATS = ['opaque', 'jwt'] as const satisfies readonly TokenFormat[];

/** The longest client name. */
const MAX_CLIENT_NAME = 200;

/** A client's name (trimmed first), printed by the CLI and the console: the users' rule for names (UNPRINTABLE), and never empty. */
export function clientNameProblem(value: string, label: string): string | undefined {
  return value === '' || UNPRINTABLE.test(value) || value.length > MAX_CLIENT_NAME
    ? `${label} must be 1 to ${MAX_CLIENT_NAME} characters, without control characters or bidirectional overrides`
    : undefined;
}

/** How the caller names the fields a rule's message mentions. */
export interface FieldNames {
  redirectUris: string;
  grantTypes: string;
  exchangeAudiences: string;
  /** How to give no exchange audiences (`--exchange-audience none`, `"exchange_audiences": []`). */
  noExchangeAudiences: string;
  keys: string;
}

/** Grants that send the browser back to the client (RFC 6749 §3.1.2). */
/**
 * The longest access or refresh token lifetime a client may be given, in seconds: ten years. Any
 * longer and an expiry no longer fits a JavaScript Date or a PostgreSQL integer column.
 */
export const MAX_TOKEN_TTL = 10 * 366 * 86_400;

export const REDIRECTING: readonly GrantType[] = ['authorization_code', 'implicit'];
/** Grants only a confidential client may use: it acts on its own credentials (RFC 6749 §4.4; RFC 8693 §2.1 authenticates the exchanging client). */
const CONFIDENTIAL_ONLY: readonly GrantType[] = ['client_credentials', TOKEN_EXCHANGE_GRANT];

/** The grants a public client cannot have (CONFIDENTIAL_ONLY). */
export function publicProblem(authMethod: ClientAuthMethod, grantTypes: readonly GrantType[]): string | undefined {
  const refused = grantTypes.filter((g) => CONFIDENTIAL_ONLY.includes(g));
  return authMethod === 'none' && refused.length > 0 ? `a public client cannot use ${refused.join(' or ')} (it has no secret to authenticate with)` : undefined;
}

/** RFC 8693: exchange audiences are for a client registered for token exchange only (one without the grant type could never use them). */
export function exchangeAudienceProblem(c: Pick<ClientRecord, 'grantTypes' | 'exchangeAudiences'>, names: FieldNames): string | undefined {
  return c.exchangeAudiences.length > 0 && !c.grantTypes.includes(TOKEN_EXCHANGE_GRANT)
    ? `${names.exchangeAudiences} is only for clients registered for token exchange (${names.grantTypes} ${TOKEN_EXCHANGE_GRANT}); ${names.noExchangeAudiences} empties them`
    : undefined;
}

/**
 * Every cross-field rule, on the registration as it would be stored: redirecting grants need a
 * redirect URI (RFC 6749 §3.1.2), public clients no confidential-only grant (§4.4), exchange
 * audiences the token exchange grant, and client keys go with private_key_jwt (RFC 7523 §2.2).
 * `registrationTokenHash`: a client made by /register keeps that route's jwks_uri rule.
 */
export function registrationProblem(
  c: Pick<ClientRecord, 'authMethod' | 'grantTypes' | 'redirectUris' | 'exchangeAudiences' | 'jwks' | 'jwksUri' | 'registrationTokenHash'>, names: FieldNames,
): string | undefined {
  const redirecting = c.grantTypes.filter((g) => REDIRECTING.includes(g));
  if (redirecting.length > 0 && c.redirectUris.length === 0) {
    return `${redirecting.join(' and ')} ${redirecting.length === 1 ? 'needs' : 'need'} at least one ${names.redirectUris}`;
  }
  const problem = publicProblem(c.authMethod, c.grantTypes) ?? exchangeAudienceProblem(c, names);
  if (problem !== undefined) return problem;
  const keys = c.jwks !== null || c.jwksUri !== null;
  if (c.authMethod === 'private_key_jwt' && !keys) return `private_key_jwt needs the client's keys (${names.keys})`;
  if (c.authMethod !== 'private_key_jwt' && keys) return `${names.keys} are for private_key_jwt clients; this one uses ${c.authMethod}`;
  // A client that registered itself (RFC 7591) has its keys fetched from public addresses only
  // (ClientKeys): its jwks_uri keeps the registration's rule, or it could never be fetched.
  if (c.jwksUri !== null && c.registrationTokenHash !== null) {
    try {
      registeredJwksUri(c.jwksUri);
    } catch (err) {
      return `jwks_uri ${(err as Error).message}, as this client registered itself at /register`;
    }
  }
  return undefined;
}

/** The longest grace period an old client secret may be given on rotation, in seconds (as long as a token may live). */
export const MAX_SECRET_GRACE = MAX_TOKEN_TTL;

/**
 * Why a client's secret cannot be rotated (with `graceSeconds` of grace), for `tessera client
 * rotate-secret` and the admin API alike: `no-secret` for a client that authenticates without one
 * (public, private_key_jwt), `no-grace` for a grace period a client_secret_jwt client cannot have.
 * `graceName`: how the caller names the grace (`--grace`, `grace`).
 */
export function secretRotationProblem(
  c: Pick<ClientRecord, 'id' | 'authMethod' | 'secretHash'>, graceSeconds: number, graceName: string,
): { kind: 'no-secret' | 'no-grace'; detail: string } | undefined {
  if (c.authMethod === 'none') return { kind: 'no-secret', detail: `client ${c.id} is public (auth method none): it has no secret to rotate` };
  if (c.secretHash === null) return { kind: 'no-secret', detail: `client ${c.id} authenticates with ${c.authMethod}: it has no secret to rotate` };
  // Its secret is an HMAC key kept sealed, one at a time: no previous one to fall back on.
  if (c.authMethod === 'client_secret_jwt' && graceSeconds > 0) {
    return { kind: 'no-grace', detail: `${graceName} is not available for client_secret_jwt clients: the new secret replaces the old one at once` };
  }
  return undefined;
}

/**
 * Every server setting with its default, in one place. The CLI's `--help`, the metadata
 * document and the README derive from this module.
 */
export interface ServerConfig {
  /** Issuer identifier (RFC 8414 §2); also the `iss` of JWT access tokens. */
  issuer: string;
  /** Access token lifetime in seconds, unless the client sets its own. */
  accessTokenTtl: number;
  /** Refresh token lifetime in seconds (each rotation starts a new one). */
  refreshTokenTtl: number;
  /** Authorization code lifetime in seconds; RFC 6749 §4.1.2 recommends at most 10 minutes, we keep ≤ 60 s. */
  codeTtl: number;
  /** Lifetime in seconds of a pushed authorization request's request_uri (RFC 9126 §2.2). */
  parTtl: number;
  /** Refuse authorization requests not pushed first (RFC 9126 §5, require_pushed_authorization_requests). */
  requirePar: boolean;
  /** The algorithm JWT access tokens are signed with (RFC 9068 §2.1: RS256 must be among those supported). */
  accessTokenAlg: 'ES256' | 'RS256';
  /** Device code and user code lifetime in seconds (RFC 8628 §3.2 expires_in). */
  deviceCodeTtl: number;
  /** Seconds a device client must wait between polls (RFC 8628 §3.2 interval); each slow_down adds 5. */
  deviceCodeInterval: number;
  /**
   * Seconds after a refresh token was rotated during which presenting it again is treated as a
   * benign retry (a new pair is issued) instead of reuse. 0 = off (RFC 9700 §4.14.2 strict).
   */
  refreshReuseGrace: number;
  /** Legacy grants (RFC 9700 §2.4, §2.1.2): off unless listed here AND enabled on the client. */
  legacyGrants: ReadonlyArray<'implicit' | 'password'>;
  /** Allow PKCE `plain` (RFC 7636 §4.2); RFC 9700 §2.1.1 says use S256. */
  allowPlainPkce: boolean;
  /**
   * Signing out at /end_session (OpenID Connect RP-Initiated Logout) also revokes every grant and
   * token of the user, for every client; off: it ends the browser session only.
   */
  logoutRevokesTokens: boolean;
  /** Audience (`aud`) of JWT access tokens (RFC 9068 §2.2), and of any token asked for without a `resource` (RFC 8707). */
  audience: string;
  /**
   * Resource indicators (RFC 8707) every client may ask tokens for, on top of those registered
   * with the client (`client create --resource`); absolute URIs without a fragment.
   */
  resources: readonly string[];
  /** Browser login session lifetime in seconds. */
  sessionTtl: number;
  /** Largest request body accepted, in bytes; larger ones get 413. */
  maxBodyBytes: number;
  /** Expired rows are swept in batches of this size... */
  sweepBatch: number;
  /** ...every this many milliseconds. */
  sweepInterval: number;
  /**
   * Expired tokens are kept this many seconds before being swept, so introspection can still
   * explain them; grants revoked this long ago are swept with their tokens.
   */
  sweepRetention: number;
  /**
   * Milliseconds between heartbeats on the revocation streams; each beat also re-reads the feed
   * (once for all streams), a fallback to the store's own notice of revocations made by another
   * process (store.onFeedAppended).
   */
  feedHeartbeat: number;
  /** Revocation streams one client may hold open at once (per server process); more get 429. */
  maxStreamsPerClient: number;
  /** Milliseconds a client may take to send a request's headers; slower connections get 408 and are closed (slowloris). */
  headersTimeout: number;
  /** Milliseconds a client may take to send a whole request (headers and body); 0 = no limit. Responses, and the revocation stream, are not limited. */
  requestTimeout: number;
  /** Milliseconds an idle keep-alive connection stays open after a response (node:http adds 1 s of grace). */
  keepAliveTimeout: number;
  /** Open connections at most (revocation streams included); beyond it new ones are closed at once. Keep it under the file-descriptor limit. */
  maxConnections: number;
  /**
   * Sign-in throttling (login page and password grant), before any password is hashed. Failed
   * attempts free of delay per account × client address and per account (0 = off); an address the
   * account signed in from is held back only by its own failures...
   */
  signInFreeFailures: number;
  /** ...and per client address, over every account, for addresses the account never signed in from (0 = off). */
  signInAddressFreeFailures: number;
  /** Seconds of the first back-off past the free failures; each further failure doubles it... */
  signInBackoff: number;
  /** ...up to this many seconds: a back-off never locks anyone out for longer. */
  signInBackoffMax: number;
  /** Seconds without a failure after which an account's or address's failures are forgotten. */
  signInFailureWindow: number;
  /** Passwords hashed (scrypt, ~64 MiB and ~70 ms each) at once; libuv's thread pool also serves files and DNS. */
  passwordHashConcurrency: number;
  /** Sign-ins waiting for a hashing slot beyond which new ones get 429: a flood queues no unbounded work. */
  passwordHashQueue: number;
  /** Take the client address from the last X-Forwarded-For entry (only behind a proxy that sets it). */
  trustForwardedFor: boolean;
  /** Shortest password `user create` and `user set-password` accept (NIST SP 800-63B: at least 8). */
  passwordMinLength: number;
  /** Longest password accepted (NIST SP 800-63B: allow at least 64). */
  passwordMaxLength: number;
  /** PostgreSQL (--db postgres://…): connections in each process's pool. */
  dbPoolSize: number;
  /** PostgreSQL: milliseconds a statement may run before the database cancels it (the request then gets 503); 0 = no limit. */
  dbStatementTimeout: number;
  /**
   * A file holding the 32-byte key that seals client_secret_jwt secrets (secrets.readSealingKey);
   * '' = client_secret_jwt off. Every instance and the CLI need the same file.
   */
  clientSecretKeyFile: string;
  /**
   * Longest a client assertion may live, in seconds (RFC 7523 §3: a server may refuse an `exp`
   * unreasonably far away); its jti is kept that long against replay. Authlib signs for 3600 s.
   */
  clientAssertionMaxLifetime: number;
  /**
   * Dynamic client registration (RFC 7591) at /register: 'off' (404, not in the metadata),
   * 'token' (an initial access token from `tessera client initial-token` is needed, RFC 7591 §3),
   * 'open' (anyone may register: for development).
   */
  registration: 'off' | 'token' | 'open';
  /** Scopes a dynamically registered client may hold (space-delimited); a request for others is invalid_client_metadata. */
  registrationScopes: string;
  /**
   * DPoP (RFC 9449): seconds a proof is accepted after its `iat` (§11.1); its `jti` is kept that
   * long against replay, in the database, so every instance refuses a replay.
   */
  dpopProofLifetime: number;
  /**
   * DPoP proofs must carry a nonce the server provides (RFC 9449 §8) at /token, /par and
   * /userinfo: an HMAC of the minute under a key kept in the database, so every instance accepts
   * what another handed out, without storing them.
   */
  dpopNonce: boolean;
  /**
   * Lifecycle webhooks (`tessera webhook add`): seconds a delivery is retried after its event;
   * one not delivered by then is marked failed.
   */
  webhookRetention: number;
  /** Milliseconds before the first retry of a failed delivery; each further failure doubles it (with jitter)... */
  webhookBackoff: number;
  /** ...up to this many milliseconds between attempts. */
  webhookBackoffMax: number;
  /** Milliseconds a receiver may take to answer a delivery before the attempt counts as failed. */
  webhookTimeout: number;
  /** Milliseconds between looks for due deliveries in the outbox (each instance of `tessera serve`). */
  webhookPollInterval: number;
}

export const defaults = {
  issuer: 'http://127.0.0.1:9000',
  accessTokenTtl: 3600,
  refreshTokenTtl: 14 * 24 * 3600,
  codeTtl: 60,
  // The request_uri is used until the code is issued: long enough for signing in and consenting
  // on the way, under FAPI 2.0's 600 s.
  parTtl: 300,
  requirePar: false,
  accessTokenAlg: 'ES256',
  deviceCodeTtl: 600,
  deviceCodeInterval: 5,
  refreshReuseGrace: 0,
  legacyGrants: [],
  allowPlainPkce: false,
  logoutRevokesTokens: false,
  resources: [],
  sessionTtl: 8 * 3600,
  maxBodyBytes: 64 * 1024,
  sweepBatch: 500,
  sweepInterval: 60_000,
  sweepRetention: 3600,
  feedHeartbeat: 2000,
  maxStreamsPerClient: 16,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5000,
  // Fits under the common 1,024-descriptor limit with room for SQLite, the writer thread and stdio.
  maxConnections: 900,
  signInFreeFailures: 5,
  signInAddressFreeFailures: 20,
  signInBackoff: 1,
  signInBackoffMax: 300,
  signInFailureWindow: 6 * 3600,
  passwordHashConcurrency: 2,
  passwordHashQueue: 32,
  trustForwardedFor: false,
  passwordMinLength: 8,
  passwordMaxLength: 256,
  dbPoolSize: 10,
  dbStatementTimeout: 5000,
  clientSecretKeyFile: '',
  clientAssertionMaxLifetime: 3600,
  registration: 'token',
  registrationScopes: 'openid profile email offline_access',
  dpopProofLifetime: 60,
  dpopNonce: false,
  webhookRetention: 3 * 24 * 3600,
  webhookBackoff: 5000,
  webhookBackoffMax: 3_600_000,
  webhookTimeout: 10_000,
  webhookPollInterval: 1000,
} as const satisfies Omit<ServerConfig, 'audience'>;

/**
 * The metrics listener (`tessera serve --metrics-port`), off unless a port is given: GET /metrics
 * on an address of its own, loopback by default (the metrics name clients and routes).
 */
export const metricsDefaults = {
  host: '127.0.0.1',
  /** Seconds a count of the tokens by state is reused: counting reads the whole tokens table. */
  tokenCountInterval: 30,
} as const;

export function resolveConfig(input: Partial<ServerConfig> = {}): ServerConfig {
  const issuer = (input.issuer ?? defaults.issuer).replace(/\/+$/, '');
  return { ...defaults, audience: issuer, ...input, issuer };
}

/**
 * The value types a setting can take, with the TypeScript type each one yields. `…-or-off` types
 * also accept 0 (off); the others want at least 1.
 */
export interface SettingTypes {
  seconds: number;
  'seconds-or-off': number;
  ms: number;
  'ms-or-off': number;
  count: number;
  'count-or-off': number;
  bytes: number;
  /** Any finite number from 0 up, fractions allowed (a rate, a factor). */
  number: number;
  boolean: boolean;
  url: string;
  text: string;
  'legacy-grants': ServerConfig['legacyGrants'];
  registration: ServerConfig['registration'];
  'signing-alg': ServerConfig['accessTokenAlg'];
  /** Absolute URIs (RFC 8707 §2 resource indicators): comma-separated in a flag or env var, an array in the file. */
  uris: readonly string[];
}

/** One row of the settings table: its type and a line of help; flag and env var derive from the key. */
export type SettingRow<T> = {
  [N in keyof SettingTypes]: SettingTypes[N] extends T
    ? {
        type: N;
        doc: string;
        /** The flag, when it is not the key in kebab case (`accessTokenTtl` → `--access-token-ttl`). */
        flag?: string;
        /** The default as shown in help, when it is not `defaults[key]`. */
        shownDefault?: string;
      }
    : never;
}[keyof SettingTypes];

/**
 * How each setting is given to `tessera serve`: flag `--access-token-ttl`, environment variable
 * `TESSERA_ACCESS_TOKEN_TTL` or key `accessTokenTtl` in the `--config` JSON file. A new field of
 * ServerConfig needs one row here (the compiler insists).
 */
export const settings: { readonly [K in keyof ServerConfig]: SettingRow<ServerConfig[K]> } = {
  issuer: { type: 'url', doc: 'issuer identifier, RFC 8414 §2; also the iss of JWT access tokens', shownDefault: 'the URL served' },
  accessTokenTtl: { type: 'seconds', doc: 'access token lifetime, unless the client sets its own' },
  refreshTokenTtl: { type: 'seconds', doc: 'refresh token lifetime (each rotation starts a new one)' },
  codeTtl: { type: 'seconds', doc: 'authorization code lifetime' },
  parTtl: { type: 'seconds', doc: 'lifetime of a pushed authorization request\'s request_uri (RFC 9126 §2.2), through sign-in and consent' },
  requirePar: { type: 'boolean', flag: 'require-par', doc: 'refuse authorization requests that were not pushed to /par first (RFC 9126 §5)' },
  deviceCodeTtl: { type: 'seconds', doc: 'device code and user code lifetime (RFC 8628 §3.2 expires_in)' },
  deviceCodeInterval: { type: 'seconds', doc: 'seconds a device must wait between polls (RFC 8628 §3.2 interval); slow_down adds 5' },
  refreshReuseGrace: { type: 'seconds-or-off', doc: 'seconds in which presenting a rotated refresh token again is a retry, not reuse (0 = off, RFC 9700 §4.14.2)' },
  legacyGrants: { type: 'legacy-grants', flag: 'enable-legacy', doc: 'legacy grants to allow (RFC 9700 says not to): implicit, password; a client must also be registered with them', shownDefault: 'none' },
  allowPlainPkce: { type: 'boolean', doc: 'allow PKCE plain (RFC 7636 §4.2); RFC 9700 §2.1.1 says use S256' },
  logoutRevokesTokens: { type: 'boolean', doc: 'signing out at /end_session also revokes all of the user\'s grants and tokens (every client); off: it ends the browser session only' },
  audience: { type: 'text', doc: 'aud of JWT access tokens, RFC 9068 §2.2, and of tokens asked for without a resource (RFC 8707)', shownDefault: 'the issuer' },
  resources: { type: 'uris', doc: 'resource indicators (RFC 8707) every client may ask tokens for, besides those registered with the client (client create --resource)', shownDefault: 'none' },
  accessTokenAlg: { type: 'signing-alg', doc: 'algorithm of JWT access tokens: ES256 (smaller, faster to sign) or RS256 (RFC 9068 §2.1; for resource servers that take only RSA)' },
  sessionTtl: { type: 'seconds', doc: 'browser login session lifetime' },
  maxBodyBytes: { type: 'bytes', doc: 'largest request body accepted; larger ones get 413' },
  sweepBatch: { type: 'count', doc: 'expired rows deleted per sweep batch' },
  sweepInterval: { type: 'ms', doc: 'milliseconds between expiry sweeps' },
  sweepRetention: { type: 'seconds-or-off', doc: 'seconds expired tokens (and grants revoked that long ago) are kept, so introspection can still explain them' },
  feedHeartbeat: { type: 'ms', doc: 'milliseconds between heartbeats (and feed re-reads) on the revocation streams, and between heartbeats on the admin event stream' },
  maxStreamsPerClient: { type: 'count', doc: 'revocation streams one client may hold open at once (per server process); more get 429' },
  headersTimeout: { type: 'ms', doc: 'milliseconds a client may take to send a request\'s headers; slower ones get 408 and are closed' },
  requestTimeout: { type: 'ms-or-off', doc: 'milliseconds a client may take to send a whole request (0 = no limit); responses and revocation streams are not limited' },
  keepAliveTimeout: { type: 'ms', doc: 'milliseconds an idle keep-alive connection stays open after a response' },
  maxConnections: { type: 'count', doc: 'open connections at most (streams included); beyond it new ones are closed at once; keep it under ulimit -n' },
  signInFreeFailures: { type: 'count-or-off', doc: 'failed sign-ins per account and address, and per account, before back-off starts (login page, password grant)' },
  signInAddressFreeFailures: { type: 'count-or-off', doc: 'failed sign-ins per client address, over all accounts, before back-off starts (not for accounts that signed in from it)' },
  signInBackoff: { type: 'seconds', doc: 'first back-off after the free failures; each further failure doubles it' },
  signInBackoffMax: { type: 'seconds', doc: 'longest back-off: no one is ever locked out for longer' },
  signInFailureWindow: { type: 'seconds', doc: 'seconds without a failure after which failures are forgotten' },
  passwordHashConcurrency: { type: 'count', doc: 'passwords hashed (scrypt) at once' },
  passwordHashQueue: { type: 'count-or-off', doc: 'sign-ins waiting for a hashing slot beyond which new ones get 429' },
  trustForwardedFor: { type: 'boolean', doc: 'take the client address from the last X-Forwarded-For entry (only behind a proxy that sets it)' },
  passwordMinLength: { type: 'count', doc: 'shortest password user create and user set-password accept (NIST SP 800-63B: at least 8)' },
  passwordMaxLength: { type: 'count', doc: 'longest password accepted (NIST SP 800-63B: allow at least 64)' },
  dbPoolSize: { type: 'count', doc: 'PostgreSQL only: connections in the pool of each process' },
  clientAssertionMaxLifetime: { type: 'seconds', doc: 'longest a private_key_jwt or client_secret_jwt assertion may live (exp − now); its jti is kept that long against replay' },
  clientSecretKeyFile: { type: 'text', doc: 'file with the 32-byte key (base64) that seals client_secret_jwt secrets, outside the database; unset = client_secret_jwt off', shownDefault: 'unset' },
  registration: { type: 'registration', doc: 'dynamic client registration at /register (RFC 7591): off, token (needs an initial access token from `tessera client initial-token`), open (anyone; for development)' },
  registrationScopes: { type: 'text', doc: 'scopes a dynamically registered client may hold (space-delimited); it gets them all when it names none' },
  dpopProofLifetime: { type: 'seconds', doc: 'seconds a DPoP proof is accepted after its iat (RFC 9449 §11.1); its jti is kept that long against replay' },
  dpopNonce: { type: 'boolean', doc: 'DPoP proofs must carry a server-provided nonce (RFC 9449 §8): use_dpop_nonce with a DPoP-Nonce header otherwise' },
  webhookRetention: { type: 'seconds', doc: 'seconds a webhook delivery is retried after its event; one not delivered by then is marked failed' },
  webhookBackoff: { type: 'ms', doc: 'milliseconds before the first retry of a webhook delivery; each further failure doubles it, with jitter' },
  webhookBackoffMax: { type: 'ms', doc: 'longest wait between two attempts of a webhook delivery, in milliseconds' },
  webhookTimeout: { type: 'ms', doc: 'milliseconds a webhook receiver may take to answer; slower attempts count as failed' },
  webhookPollInterval: { type: 'ms', doc: 'milliseconds between looks for due webhook deliveries (each server instance)' },
  dbStatementTimeout: { type: 'ms-or-off', doc: 'PostgreSQL only: milliseconds a statement may run before it is cancelled and the request gets 503 (0 = no limit); other commands have none unless set' },
};

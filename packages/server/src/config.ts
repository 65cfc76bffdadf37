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
  /**
   * Seconds after a refresh token was rotated during which presenting it again is treated as a
   * benign retry (a new pair is issued) instead of reuse. 0 = off (RFC 9700 §4.14.2 strict).
   */
  refreshReuseGrace: number;
  /** Legacy grants (RFC 9700 §2.4, §2.1.2): off unless listed here AND enabled on the client. */
  legacyGrants: ReadonlyArray<'implicit' | 'password'>;
  /** Allow PKCE `plain` (RFC 7636 §4.2); RFC 9700 §2.1.1 says use S256. */
  allowPlainPkce: boolean;
  /** Audience (`aud`) of JWT access tokens (RFC 9068 §2.2). */
  audience: string;
  /** Browser login session lifetime in seconds. */
  sessionTtl: number;
  /** Largest request body accepted, in bytes; larger ones get 413. */
  maxBodyBytes: number;
  /** Expired rows are swept in batches of this size... */
  sweepBatch: number;
  /** ...every this many milliseconds. */
  sweepInterval: number;
  /** Expired tokens are kept this many seconds before being swept, so introspection can still explain them. */
  sweepRetention: number;
  /**
   * Milliseconds between heartbeats on an idle revocation stream; each beat also re-reads the feed,
   * so revocations made by another process (the CLI) reach guards within one beat.
   */
  feedHeartbeat: number;
  /**
   * Sign-in throttling (login page and password grant), before any password is hashed. Failed
   * attempts free of delay per account × client address (and per account from failing addresses)...
   */
  signInFreeFailures: number;
  /** ...and per client address, over every account (NAT and shared offices send many users from one). */
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
}

export const defaults = {
  issuer: 'http://127.0.0.1:9000',
  accessTokenTtl: 3600,
  refreshTokenTtl: 14 * 24 * 3600,
  codeTtl: 60,
  refreshReuseGrace: 0,
  legacyGrants: [],
  allowPlainPkce: false,
  sessionTtl: 8 * 3600,
  maxBodyBytes: 64 * 1024,
  sweepBatch: 500,
  sweepInterval: 60_000,
  sweepRetention: 3600,
  feedHeartbeat: 2000,
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
} as const satisfies Omit<ServerConfig, 'audience'>;

export function resolveConfig(input: Partial<ServerConfig> = {}): ServerConfig {
  const issuer = (input.issuer ?? defaults.issuer).replace(/\/+$/, '');
  return { ...defaults, audience: issuer, ...input, issuer };
}

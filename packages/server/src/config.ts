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
  /** Milliseconds a client may take to send a request's headers; slower connections get 408 and are closed (slowloris). */
  headersTimeout: number;
  /** Milliseconds a client may take to send a whole request (headers and body); 0 = no limit. Responses, and the revocation stream, are not limited. */
  requestTimeout: number;
  /** Milliseconds an idle keep-alive connection stays open after a response (node:http adds 1 s of grace). */
  keepAliveTimeout: number;
  /** Open connections at most (revocation streams included); beyond it new ones are closed at once. Keep it under the file-descriptor limit. */
  maxConnections: number;
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
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5000,
  // Fits under the common 1,024-descriptor limit with room for SQLite, the writer thread and stdio.
  maxConnections: 900,
} as const satisfies Omit<ServerConfig, 'audience'>;

export function resolveConfig(input: Partial<ServerConfig> = {}): ServerConfig {
  const issuer = (input.issuer ?? defaults.issuer).replace(/\/+$/, '');
  return { ...defaults, audience: issuer, ...input, issuer };
}

/**
 * The storage contract. The lifecycle engine owns every rule; a store only keeps rows and makes
 * each method one atomic transaction. Every store (SQLite, later PostgreSQL) passes the shared
 * suite in @tessera/test-utils, whose concurrency section races these guarantees on separate
 * connections. Times are milliseconds since the epoch.
 *
 * Guarantees. Several processes (`tessera serve` replicas, the CLI) may use one database through
 * stores of their own; every store gives each of them all of the following, whatever the others do.
 * - Atomicity: each write method commits all of its rows, with its audit records, or nothing; a
 *   write that answers an outcome other than success, or rejects, has stored nothing.
 * - Serializable outcomes: each write behaves as if run alone at its commit (SQLite: one writer
 *   at a time; a store with concurrent writers needs row locks or SERIALIZABLE). Compare-and-set
 *   writes (redeemCode, rotateRefresh, redeemDeviceCode, decideDeviceCode, recordDevicePoll,
 *   createClient spending an initial access token) succeed at most once for what they compare,
 *   across all connections; the checks a write answers by ('grant-revoked', 'conflict',
 *   CheckedCredentials) are made in its own transaction and still hold at its commit, never taken
 *   from a read before it.
 * - One live grant per pair: at most one unrevoked grant per (client, user), a null user
 *   (client credentials) included, enforced by the schema; a write that would add a second answers
 *   'conflict' (saveGrant, issueTokens).
 * - Read-your-writes: once a write's promise resolved, every read through any store on the same
 *   database (this object, another one, another process) sees it; cached clients excepted, below.
 * - Feed order is commit order: a FeedEvent's seq is assigned so that seq order equals commit
 *   order (one writer at a time, or a lock around seq assignment and commit). A reader following
 *   readFeed with a cursor therefore never misses an event that commits later with a lower seq.
 * - Clients may be cached: a getClient result may outlive the client's change or deletion by
 *   another store by a bound the store states (SQLite: 100 ms, its poll); onClientsChanged fires
 *   within that bound. Through the store that made the change it is seen at once.
 * - Audit order: records form one or more hash chains (audit/chain.ts). seq is unique across the
 *   log and increases along each chain in append order; across chains it says nothing of commit
 *   order, so readAudit is verified against auditHeads read first (verifyChain), not tailed.
 *   Within a chain append order is commit order (a transaction holds its chain from its first seq
 *   to its commit), and a chain's head moves at that commit: every record of a chain up to the
 *   head auditHeads answered is committed, and any later one has a higher seq. A reader keeping
 *   one cursor per chain may therefore tail the log (admin/events.ts).
 */

/** RFC 8628 §3.4: the device authorization grant's grant_type. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8693 §2.1: the token exchange grant's grant_type. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials' | 'password' | 'implicit' | typeof DEVICE_CODE_GRANT | typeof TOKEN_EXCHANGE_GRANT;
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'client_secret_jwt' | 'none';
export type TokenFormat = 'opaque' | 'jwt';
/** The JWS algorithms the server signs with (RFC 7518 §3.3 RS256, §3.4 ES256): one current key each. */
export type SigningAlg = 'RS256' | 'ES256';

export interface ClientRecord {
  id: string;
  name: string;
  /** SHA-256 of the secret (base64url); null for public clients (auth method `none`) and private_key_jwt. */
  secretHash: string | null;
  /**
   * After `rotate-secret --grace`: the replaced secret's hash, accepted until
   * `previousSecretExpiresAt` (ms), then ignored; both null when there is none.
   */
  previousSecretHash: string | null;
  previousSecretExpiresAt: number | null;
  authMethod: ClientAuthMethod;
  /** private_key_jwt (RFC 7523 §2.2): the client's public keys, a JWK Set as JSON text, or where to fetch them. At most one is set. */
  jwks: string | null;
  jwksUri: string | null;
  /**
   * client_secret_jwt only (OpenID Connect Core §9): the secret itself is the HMAC key, so it is
   * kept sealed (AES-256-GCM, secrets.sealSecret) under a key file outside the database; null for
   * every other method. secretHash is still its SHA-256 (rotation checks).
   */
  sealedSecret: string | null;
  /**
   * Clients registered through /register (RFC 7591): SHA-256 of the registration access token
   * (RFC 7592 §3) that reads, replaces and deletes this registration; null for clients made by the CLI.
   * It also tells whose jwks_uri it is: a registrant's is fetched from public addresses only (ClientKeys).
   */
  registrationTokenHash: string | null;
  grantTypes: GrantType[];
  redirectUris: string[];
  /** OpenID Connect RP-Initiated Logout 1.0 §3.1: where the browser may go after signing out (exact match). */
  postLogoutRedirectUris: string[];
  /** Space-delimited scopes the client may ask for. */
  scope: string;
  /**
   * RFC 8707 resource indicators this client may ask tokens for (`client create --resource`), on
   * top of the server-wide list (config.resources); empty: the server-wide list only. For a client
   * that may exchange tokens (RFC 8693), the audiences of the tokens it may ask for in an exchange.
   */
  resources: string[];
  /**
   * RFC 8693: the audiences of the subject tokens this client may exchange besides its own (`client
   * create --exchange-audience`): a resource server exchanging the tokens sent to it. Kept apart
   * from `resources`, so being allowed to call a resource never lets a client exchange every token
   * sent to it. Non-empty only for clients registered for token exchange (the CLI refuses it otherwise).
   */
  exchangeAudiences: string[];
  tokenFormat: TokenFormat;
  /** OpenID Connect Dynamic Client Registration 1.0 §2 id_token_signed_response_alg: what its ID Tokens are signed with. */
  idTokenSignedResponseAlg: SigningAlg;
  /** Per-client lifetimes in seconds; null = server default. */
  accessTtl: number | null;
  refreshTtl: number | null;
  /** RFC 9449 §5.2 dpop_bound_access_tokens: every token request of the client must carry a DPoP proof. */
  dpopBoundAccessTokens: boolean;
  createdAt: number;
}

/** What `updateClient` may change; the id, secrets and creation time never change. */
export type ClientChanges = Partial<Pick<ClientRecord,
  'name' | 'grantTypes' | 'redirectUris' | 'postLogoutRedirectUris' | 'scope' | 'resources' | 'exchangeAudiences' | 'tokenFormat' | 'idTokenSignedResponseAlg' | 'accessTtl' | 'refreshTtl'
  | 'jwks' | 'jwksUri' | 'dpopBoundAccessTokens'>>;

/**
 * An initial access token (RFC 7591 §3), minted by `tessera client initial-token`: it lets one
 * client register at /register, once, before it expires.
 */
export interface InitialAccessTokenRecord {
  /** SHA-256 of the token (base64url); the token itself is shown once and never stored. */
  hash: string;
  createdAt: number;
  expiresAt: number;
}

export interface UserRecord {
  id: string;
  username: string;
  /** scrypt string from secrets.hashPassword. */
  passwordHash: string;
  /** OpenID Connect Core §5.1 `name` (the `profile` scope), or null. */
  name: string | null;
  /** OpenID Connect Core §5.1 `email` (the `email` scope), or null. */
  email: string | null;
  /** OpenID Connect Core §5.1 `email_verified`: whether the operator vouches for `email`. */
  emailVerified: boolean;
  createdAt: number;
}

/** The OpenID Connect profile a user's record carries (setUserProfile replaces it whole). */
export type UserProfile = Pick<UserRecord, 'name' | 'email' | 'emailVerified'>;

/** A standing authorization: user × client × scopes. Client-credentials grants have no user. */
export interface GrantRecord {
  id: string;
  clientId: string;
  userId: string | null;
  scope: string;
  /** RFC 8707: the resources the user authorized at /authorize, widened by consent like scope; tokens of the grant may name them. */
  resources: string[];
  createdAt: number;
  revokedAt: number | null;
}

export type TokenKind = 'access' | 'refresh';

export interface TokenRecord {
  /** Public identifier (the JWT `jti`, part of an opaque token's value); never the token itself. */
  id: string;
  /** SHA-256 of the token string, base64url; compared after the row is found by id, never searched. */
  hash: string;
  kind: TokenKind;
  format: TokenFormat;
  grantId: string;
  /**
   * Tokens descending from one authorization (a code, a password exchange) share a family; a
   * token of no family (client_credentials, implicit) has its own id here.
   */
  familyId: string;
  /** The refresh token this one was rotated from, if any. */
  parentId: string | null;
  clientId: string;
  userId: string | null;
  scope: string;
  issuedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  /** Refresh tokens: when rotation consumed it. */
  consumedAt: number | null;
  /**
   * Refresh tokens of a user's sign-in (a code's): when the user authenticated (CodeRecord.authTime),
   * copied to each successor on rotation, so a refreshed id_token keeps the original auth_time
   * (OpenID Connect Core §12.2). Null for other tokens, and for rows stored before it was kept.
   */
  authTime: number | null;
  /**
   * RFC 9449: the JWK thumbprint (RFC 7638) of the DPoP key the token is bound to (an access
   * token's cnf.jkt, §6; a public client's refresh token, §5), or null for a bearer token.
   */
  dpopJkt: string | null;
  /**
   * Access tokens: the resource (RFC 8707) the token is for, its `aud`; null: the server's default
   * audience (config.audience), as for every token issued without a `resource`.
   */
  audience: string | null;
  /**
   * Access tokens from a token exchange with an actor (RFC 8693 §4.1): the `act` claim, JSON text
   * (the actor's sub and client_id, and the subject token's own act nested in it); null otherwise.
   */
  act: string | null;
  /**
   * Access tokens issued by a token exchange (RFC 8693): the subject token's id. Such a token
   * belongs to the subject token's grant and family (revoking them revokes it) but is issued to the
   * exchanging client, which may be another client than the grant's: revoking that client reaches it too.
   */
  exchangedFrom: string | null;
}

export interface CodeRecord {
  id: string;
  hash: string;
  grantId: string;
  clientId: string;
  userId: string;
  scope: string;
  /** RFC 8707 §2.1: the resources the authorization request named (empty: none); the token request may narrow to one of them. */
  resources: string[];
  redirectUri: string;
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | 'plain' | null;
  /** OpenID Connect Core §3.1.2.1 `nonce` of the authorization request, echoed in the id_token; null if none. */
  nonce: string | null;
  /** When the user signed in to the browser session the code was issued through (the id_token's auth_time). */
  authTime: number;
  issuedAt: number;
  expiresAt: number;
  redeemedAt: number | null;
  /** RFC 9449 §10: the authorization request's dpop_jkt; the token request's DPoP proof must use that key. */
  dpopJkt: string | null;
}

/**
 * An authorization request pushed by its client (RFC 9126), held until the browser brings its
 * request_uri to the authorization endpoint.
 */
export interface PushedRequestRecord {
  /** SHA-256 of the request_uri's random part (base64url); the request_uri itself is never stored. */
  hash: string;
  clientId: string;
  /** The authorization request's parameters, application/x-www-form-urlencoded, client_id included. */
  params: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * Where a device authorization (RFC 8628) stands: waiting for the user, decided by them, or
 * redeemed for tokens (once).
 */
export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'redeemed';

/** A device authorization request (RFC 8628 §3.2): its device code and user code, both stored hashed. */
export interface DeviceCodeRecord {
  /** Carried in the device_code value (secrets.secretFor), like a token's; never the code itself. */
  id: string;
  /** SHA-256 of the device_code, compared after the row is found by id. */
  hash: string;
  /** SHA-256 of the normalised user code: at most one stored device code holds a given one. */
  userCodeHash: string;
  clientId: string;
  scope: string;
  /** RFC 8707: the resources the device authorization request named (empty: none); approving consents to them. */
  resources: string[];
  issuedAt: number;
  expiresAt: number;
  /** Seconds the client must wait between polls (RFC 8628 §3.2 interval); slow_down adds 5 (§3.5). */
  interval: number;
  /** When the client last polled the token endpoint with it; null before the first poll. */
  lastPolledAt: number | null;
  status: DeviceCodeStatus;
  /** Set by the user's decision: who decided, and (approved) the grant the tokens will be issued on. */
  userId: string | null;
  grantId: string | null;
  decidedAt: number | null;
}

/**
 * The user's answer to a device authorization: denial, or approval, which is consent too: `grant`
 * is the user's grant to the client as it is to be stored (new, or its scope widened), written in
 * the approval's transaction (decideDeviceCode), and the one the tokens will be issued on.
 */
export type DeviceDecision = { approve: { userId: string; grant: GrantRecord } } | { deny: { userId: string } };

export interface SessionRecord {
  hash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
}

export interface KeyRecord {
  kid: string;
  alg: SigningAlg;
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  /** Set when a newer key replaced it: the key stays published until then. */
  retireAt: number | null;
}

/** What a revocation applies to. `issuedBefore` covers every token issued before that instant. */
export type RevocationTarget =
  | { token: string }
  /** A family lies within one grant, which the target names so the store can find it by index. */
  | { family: string; grant: string }
  | { grant: string }
  | { user: string }
  | { client: string }
  | { issuedBefore: number };

export interface RevocationResult {
  /** Tokens newly revoked. */
  tokens: number;
  /** Grants newly revoked. */
  grants: number;
  /** The latest expiry among the revoked tokens: after it, the revocation no longer matters. */
  until: number | null;
}

/**
 * A token's state at some time, the one definition the metrics gauge (countTokens), the admin
 * API's filters and its stats share: revoked, before rotated (a refresh token consumed by
 * rotation), before expired (past expiresAt, kept until swept), else active.
 */
export type TokenState = 'active' | 'rotated' | 'revoked' | 'expired';

/** How many stored tokens are in each state, by kind. */
export type TokenCounts = Record<TokenKind, Record<TokenState, number>>;

export const emptyTokenCounts = (): TokenCounts => ({
  access: { active: 0, rotated: 0, revoked: 0, expired: 0 },
  refresh: { active: 0, rotated: 0, revoked: 0, expired: 0 },
});

/**
 * One count of the stored tokens at an instant (Store.countTokens): by kind and state (the metrics
 * gauge), and by client (the admin API's stats: the tokens the client holds, its active ones).
 */
export interface TokenCensus {
  byKind: TokenCounts;
  /** Ordered by client id. */
  byClient: Array<{ clientId: string; active: number; total: number }>;
}

/** A TokenCensus from counts of tokens by kind, state and client, added in any order (and any number of slices). */
export class CensusTally {
  private readonly byKind = emptyTokenCounts();
  private readonly clients = new Map<string, { clientId: string; active: number; total: number }>();

  add(kind: TokenKind, state: TokenState, clientId: string, n: number): void {
    this.byKind[kind][state] += n;
    let c = this.clients.get(clientId);
    if (c === undefined) {
      c = { clientId, active: 0, total: 0 };
      this.clients.set(clientId, c);
    }
    c.total += n;
    if (state === 'active') c.active += n;
  }

  census(): TokenCensus {
    return { byKind: this.byKind, byClient: [...this.clients.values()].sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0)) };
  }
}

/**
 * Whether the store can serve (GET /readyz): ready, or the first check that failed and why, in
 * words fit for a load balancer's log (no error text from the database, no secret).
 */
export type Readiness = { ready: true } | { ready: false; check: 'database' | 'schema' | 'writer'; reason: string };

/** The kinds of revocation target, by the key that names each. */
export type RevocationKind = 'token' | 'family' | 'grant' | 'user' | 'client' | 'issuedBefore';

/** A revocation target as the feed names it, by one key: a family by its id alone (the JWT claim). */
export type FeedTarget = Exclude<RevocationTarget, { family: string }> | { family: string };

/**
 * One entry of the revocation feed (GET /revocations, /revocations/stream): resource servers learn
 * from it what to refuse without introspecting every token.
 */
export interface FeedEvent {
  /** Position in the feed: increases in commit order and is never reused, even after a sweep. */
  seq: number;
  /** When the revocation happened (the tokens' `revokedAt`). */
  at: number;
  target: FeedTarget;
  /** The latest expiry among the access tokens it revoked: after it, the event no longer matters. */
  until: number;
}

/** One lifecycle event. Never holds a token or a secret. */
export interface AuditInput {
  event: string;
  actor: string;
  clientId?: string | null;
  userId?: string | null;
  grantId?: string | null;
  tokenId?: string | null;
  reason?: string | null;
  endpoint?: string | null;
  data?: Record<string, unknown> | null;
}

export interface AuditRecord extends Required<{ [K in keyof AuditInput]: Exclude<AuditInput[K], undefined> }> {
  /** Position in the log: unique, increasing within a chain. */
  seq: number;
  /** The hash chain it extends (audit/chain.ts); 0 on a store with one chain. */
  chain: number;
  at: number;
  prevHash: string;
  hash: string;
}

/** The end of one audit hash chain: how many records it holds, the last one's seq and hash (GENESIS and 0 when empty). */
export interface AuditHead {
  chain: number;
  records: number;
  seq: number;
  hash: string;
}

/**
 * A lifecycle webhook subscription (`tessera webhook add`): the events whose audit records become
 * deliveries to `url`, in the transaction that appends them (webhooks/events.ts).
 */
export interface WebhookRecord {
  id: string;
  url: string;
  /** Event types (audit event names), patterns already expanded (webhooks/events.ts expandEvents). */
  events: string[];
  /** The signing secret, sealed (secrets.sealSecret, bound to the id) under clientSecretKeyFile's key: never stored in the clear. */
  sealedSecret: string;
  createdAt: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/**
 * One event for one subscription, in the outbox until delivered or failed. It holds ids and the
 * reason only, never a token, code, hash or secret (what the audit record names of the change).
 */
export interface WebhookDelivery {
  /** The idempotency id (the `webhook-id` header): the same on every attempt. */
  id: string;
  webhookId: string;
  event: string;
  /** When the change happened (its audit record's `at`). */
  at: number;
  actor: string;
  clientId: string | null;
  userId: string | null;
  grantId: string | null;
  tokenId: string | null;
  familyId: string | null;
  /** A refresh rotation's new pair (token.rotated, token.rotated_in_grace): the ids of the tokens it issued; null otherwise. */
  accessTokenId: string | null;
  refreshTokenId: string | null;
  reason: string | null;
  status: DeliveryStatus;
  attempts: number;
  /** When it is next due (pending); while claimed, when the claim lapses. */
  nextAttemptAt: number;
  /** The HTTP status of the last attempt; null before the first, or when no response came. */
  lastStatus: number | null;
  /** Why the last attempt failed (a status line, a timeout, a refused connection); never a response body. */
  lastError: string | null;
  /** When it was delivered or given up; null while pending. */
  finishedAt: number | null;
}

/** A delivery claimed for one attempt, with where it goes and the sealed secret that signs it. */
export interface ClaimedDelivery {
  delivery: WebhookDelivery;
  url: string;
  sealedSecret: string;
}

/** What one attempt came to: delivered (a 2xx), retried at `nextAttemptAt`, or given up. */
export type DeliveryAttempt = { at: number; httpStatus: number | null; error: string | null } & (
  | { outcome: 'delivered' }
  | { outcome: 'retry'; nextAttemptAt: number }
  | { outcome: 'failed' }
);

export interface DeliveryFilter {
  webhookId?: string;
  status?: DeliveryStatus;
  /** Only those before this one in the listing's order (at, then id, newest first): the next page. */
  before?: { at: number; id: string };
  limit?: number;
}

/**
 * An operator's credential for the admin API (`tessera admin token create`): the value is shown
 * once and only its SHA-256 is kept, compared in constant time after the row is found by the id
 * the value carries (secrets.secretFor), as for opaque tokens.
 */
export interface AdminTokenRecord {
  id: string;
  /** Unique over every admin token ever made (revoked ones too), so the audit log's `admin:NAME` names one. */
  name: string;
  /** SHA-256 of the value (base64url). */
  hash: string;
  /** A read-only token may only read (GET); writes get 403. */
  readOnly: boolean;
  createdAt: number;
  /** Null: it never expires. */
  expiresAt: number | null;
  revokedAt: number | null;
}

/**
 * A page of tokens (admin API). Ordered by id: ids begin with their creation millisecond
 * (secrets.randomId), so this is issue order, and the primary key serves it (no index is kept for
 * listing, so issuance pays nothing for it). Stable under concurrent inserts and revocations:
 * a row's position never moves, and `afterId` resumes strictly after the last row seen.
 */
export interface TokenQuery {
  userId?: string;
  /** The client's tokens, exchanged ones on others' grants included (as TokenFilter.clientId). */
  clientId?: string;
  /** The tokens of any of these grants (none: no token). */
  grantIds?: readonly string[];
  state?: TokenState;
  /** States are judged at this instant. */
  at: number;
  /** issuedAt in [issuedFrom, issuedTo). */
  issuedFrom?: number;
  issuedTo?: number;
  afterId?: string;
  limit: number;
}

/**
 * A page of clients or users, ordered by id (creation order, as TokenQuery), resuming after `afterId`.
 * With `q`, only rows with `q` in their name or id (a user's username, name, email or id), ignoring
 * case (SQLite: ASCII letters only), `%` and `_` taken literally. A search reads at most `scan` rows
 * past `afterId` (no index serves a substring): see PrincipalPage.scannedTo.
 */
export interface PrincipalQuery {
  afterId?: string;
  q?: string;
  scan?: number;
  limit: number;
}

/**
 * A page of clients or users. `scannedTo`: a search stopped at its `scan` bound before the table's
 * end, having read every row up to this id; a next page resumes after it (null: it read to the end,
 * or there was no search).
 */
export interface PrincipalPage<T> {
  rows: T[];
  scannedTo: string | null;
}

/** A page of grants, ordered by id (creation order, as TokenQuery), resuming after `afterId`. */
export interface GrantQuery {
  userId?: string;
  clientId?: string;
  /** Live (unrevoked) or revoked grants. */
  state?: 'active' | 'revoked';
  /** createdAt in [createdFrom, createdTo). */
  createdFrom?: number;
  createdTo?: number;
  afterId?: string;
  limit: number;
}

/**
 * A page of audit records, ordered by seq (unique across the log), resuming after `afterSeq`.
 * Records already stored never move, so paging with afterSeq neither repeats nor skips them; on a
 * store with several chains a record committed later may take a lower seq than one already read
 * (see Guarantees: seq is not a tail cursor).
 */
export interface AuditQuery {
  event?: string;
  actor?: string;
  clientId?: string;
  userId?: string;
  /** at in [from, to). */
  from?: number;
  to?: number;
  afterSeq?: number;
  limit: number;
}

export interface TokenFilter {
  userId?: string;
  /** The client's tokens: those on its grants, and those exchanged for it on others' (RFC 8693). */
  clientId?: string;
  /** Only tokens neither revoked, consumed nor expired at this instant. */
  activeAt?: number;
  /** Only tokens after this one in the listing's order (issuedAt, then id): the next page. */
  after?: { issuedAt: number; id: string };
  limit?: number;
}

/**
 * Outcome of a write that adds tokens. 'grant-revoked': the tokens' grant was revoked after the
 * caller checked it (a concurrent revocation); nothing is written, so no live token can outlive
 * its grant's revocation. 'credential-changed': see CheckedCredentials.
 */
export type ClaimResult = 'claimed' | 'already-used' | 'grant-revoked' | 'credential-changed';

/**
 * The credentials a write was authorized by, as they were read when the caller checked them
 * (a password takes ~70 ms of scrypt to check). The store compares them with the stored rows
 * inside the write's transaction, before anything else: if one changed since (a new password, a
 * rotated client secret, the user or client deleted), the write stores nothing and answers
 * 'credential-changed'. So a session or token obtained with a credential never outlives the
 * change of that credential, whichever process made the change.
 */
export interface CheckedCredentials {
  /**
   * The client, with its secret hash as read when it authenticated (null: a public or
   * private_key_jwt client). It still holds while it is the stored secret, or the previous one
   * within its grace period (rotate-secret --grace).
   */
  client?: { id: string; secretHash: string | null };
  /** The user, with the password hash (UserRecord.passwordHash) the password was checked against. */
  user?: { id: string; passwordHash: string };
  /**
   * The browser session (SessionRecord.hash, of user `userId`) a signed-in user acted through: the
   * write needs it still stored. setPassword and deleteUser end the user's sessions in the
   * transaction that revokes their grants, so nothing a session authorizes (consent, a code, an
   * implicit token) is written after that commit, whichever process made it.
   */
  session?: { hash: string; userId: string };
}

export interface Store {
  // clients
  /**
   * Stores the client with its audit record. With `initialToken` (a registration allowed by an
   * initial access token, RFC 7591 §3), the token with that hash is spent in the same transaction:
   * when it is not stored, or expired at `at`, or spent by another caller first (on any
   * connection), nothing is stored and the answer is 'initial-token-refused'. So a token is spent
   * exactly when a client is created with it.
   */
  createClient(client: ClientRecord, audit: AuditInput, initialToken?: { hash: string; at: number }): Promise<'created' | 'initial-token-refused'>;
  /** May answer from a cache: a change by another store shows within the store's bound (see onClientsChanged). */
  getClient(id: string): Promise<ClientRecord | undefined>;
  listClients(): Promise<ClientRecord[]>;
  /**
   * Replaces a confidential client's secret hash; false if there is no such client with a secret.
   * With `previousUntil` (ms) later than now, the replaced hash becomes previousSecretHash until
   * then (a grace period; any older previous secret is dropped); without, previousSecretHash is
   * cleared. sealedSecret replaces the stored one (cleared when absent). Writes conditional on the old secret (CheckedCredentials) fail from the commit on,
   * or from the end of the grace period; tokens already issued stay valid.
   */
  setClientSecret(id: string, secretHash: string, audit: AuditInput[], previousUntil?: number, sealedSecret?: string): Promise<boolean>;
  /**
   * Changes the given registration fields of a client, never its id or secrets; returns the
   * client as stored, undefined if there is no such client. Tokens and grants are untouched.
   * Cached clients follow as after any change (onClientsChanged, within the store's bound).
   */
  updateClient(id: string, changes: ClientChanges, audit: AuditInput[]): Promise<ClientRecord | undefined>;
  /**
   * Records a client assertion's `jti` (RFC 7523 §3 item 7) until `expiresAt`: 'recorded' the
   * first time, 'replayed' if this client's jti is already recorded and not expired, by whichever
   * process recorded it. Expired records go with sweepExpired.
   */
  recordAssertion(clientId: string, jti: string, expiresAt: number): Promise<'recorded' | 'replayed'>;
  /**
   * Records a DPoP proof's `jti` (RFC 9449 §11.1) for its key (`jkt`) until `expiresAt`, as
   * recordAssertion does: 'recorded' the first time, 'replayed' if already recorded, by whichever
   * process recorded it. Expired records go with sweepExpired.
   */
  recordDpopProof(jkt: string, jti: string, expiresAt: number): Promise<'recorded' | 'replayed'>;
  /**
   * The server secret named `name` (a key every instance must share, such as the DPoP nonce key):
   * stores `candidate` with an audit record when there is none yet, in one transaction, and
   * answers the stored value; every store on the database answers the same one, however many
   * race to create it.
   */
  serverSecret(name: string, candidate: string): Promise<string>;
  /** Stores an initial access token (RFC 7591 §3) with its audit records. */
  createInitialAccessToken(token: InitialAccessTokenRecord, audit: AuditInput[]): Promise<void>;
  /** Deletes the client and revokes every grant, token and unredeemed code issued to it. */
  deleteClient(id: string, at: number, audit: AuditInput[]): Promise<RevocationResult | undefined>;
  /**
   * Calls `listener` after clients may have changed or been deleted: at once for a change made
   * through this store, and for one made by another process (the CLI on the same database) as
   * soon as the store notices, within a bound the store states (SQLite: 100 ms, how often it polls;
   * its cached clients live no longer than that after such a change). It may call when nothing relevant changed;
   * a listener re-reads the clients it cares about with getClient. Returns the unsubscribe function.
   */
  onClientsChanged(listener: () => void): () => void;

  // users
  createUser(user: UserRecord, audit: AuditInput): Promise<void>;
  getUser(id: string): Promise<UserRecord | undefined>;
  getUserByName(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** Deletes the user, revokes their grants, tokens and unredeemed codes, and ends their browser sessions. */
  deleteUser(id: string, at: number, audit: AuditInput[]): Promise<RevocationResult | undefined>;
  /**
   * Replaces the user's profile (name, email, email_verified) with its audit records; false if there
   * is no such user. Revokes nothing: tokens carry no profile claims, userinfo reads them fresh.
   */
  setUserProfile(id: string, profile: UserProfile, audit: AuditInput[]): Promise<boolean>;
  /** Replaces the password hash, revokes the user's grants, tokens and unredeemed codes, and ends their browser sessions. */
  setPassword(id: string, passwordHash: string, at: number, audit: AuditInput[]): Promise<RevocationResult | undefined>;

  // grants
  /** The live (unrevoked) grant for this client and user (null user = client credentials): there is at most one. */
  findGrant(clientId: string, userId: string | null): Promise<GrantRecord | undefined>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  /**
   * Inserts the grant or widens its scope. 'credential-changed' (see CheckedCredentials; also when
   * the grant's client or user no longer exists) stores nothing. 'conflict': its (client, user)
   * pair already has a live grant other than this one (written concurrently, perhaps by another
   * process); nothing is stored, and the caller uses that grant (findGrant) instead.
   */
  saveGrant(grant: GrantRecord, audit: AuditInput[], checked?: CheckedCredentials): Promise<'saved' | 'conflict' | 'credential-changed'>;

  // codes
  /** Stores the code; 'credential-changed' (see CheckedCredentials) stores nothing. */
  createCode(code: CodeRecord, audit: AuditInput[], checked?: CheckedCredentials): Promise<'created' | 'credential-changed'>;
  getCode(id: string): Promise<CodeRecord | undefined>;
  /**
   * Marks the code redeemed and stores the tokens, atomically; any outcome but 'claimed' stores
   * nothing. A code whose grant is revoked or gone is 'grant-revoked' (deleting its user or setting
   * their password revokes the user's grants, so that covers those too).
   */
  redeemCode(codeId: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials): Promise<ClaimResult>;

  // pushed authorization requests (RFC 9126)
  /** Stores a pushed request with its audit record; 'credential-changed' (see CheckedCredentials) stores nothing. */
  createPushedRequest(request: PushedRequestRecord, audit: AuditInput[], checked?: CheckedCredentials): Promise<'created' | 'credential-changed'>;
  /** The pushed request with this hash, if stored and not expired at `at`. */
  getPushedRequest(hash: string, at: number): Promise<PushedRequestRecord | undefined>;
  /**
   * Deletes the pushed request if it is stored and not expired at `at`; true for the one caller,
   * across all connections, that deleted it (one-time use, RFC 9126 §4).
   */
  consumePushedRequest(hash: string, at: number): Promise<boolean>;
  // device authorization (RFC 8628)
  /**
   * Stores a device code with its audit records. 'conflict': a stored device code (live or not yet
   * swept) already holds its userCodeHash; nothing is stored, and the caller draws another user code.
   */
  createDeviceCode(code: DeviceCodeRecord, audit: AuditInput[]): Promise<'created' | 'conflict'>;
  getDeviceCode(id: string): Promise<DeviceCodeRecord | undefined>;
  /** The device code holding this user code hash, whatever its status or expiry (the caller checks both). */
  findDeviceCodeByUserCode(userCodeHash: string): Promise<DeviceCodeRecord | undefined>;
  /**
   * Records a poll (RFC 8628 §3.4) at `at` with the interval the client must keep from now on,
   * compare-and-set: only if lastPolledAt is still `previousPoll` (what the caller read). false
   * (nothing stored): another poll of this code committed in between, from any connection.
   */
  recordDevicePoll(id: string, previousPoll: number | null, at: number, interval: number): Promise<boolean>;
  /**
   * Records the user's decision, compare-and-set: only a pending code that has not expired at `at`
   * is decided, exactly once across all connections ('not-pending' stores nothing otherwise).
   * An approval stores its grant (inserted, or its scope widened) in the same transaction, so the
   * consent is stored exactly when the approval is; every outcome but 'decided' stores neither.
   * 'credential-changed' (see CheckedCredentials: the session the user decided through ended; also
   * when the grant's client or user no longer exists), 'conflict' (the grant's pair already has
   * another live grant, as for saveGrant: the caller uses that one) and 'grant-revoked' (the grant
   * given is revoked: it is not widened) store nothing.
   */
  decideDeviceCode(
    id: string, decision: DeviceDecision, at: number, audit: AuditInput[], checked?: CheckedCredentials,
  ): Promise<'decided' | 'not-pending' | 'conflict' | 'grant-revoked' | 'credential-changed'>;
  /**
   * Marks an approved device code redeemed and stores the tokens, atomically, as redeemCode does:
   * exactly one caller across all connections claims it ('already-used' when it is not approved:
   * redeemed, pending, denied); any outcome but 'claimed' stores nothing; its grant revoked or
   * gone is 'grant-revoked'.
   */
  redeemDeviceCode(id: string, at: number, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials): Promise<ClaimResult>;

  // tokens
  /**
   * Stores tokens (and the grant, if given: inserted, or its scope widened) with their audit
   * records in one transaction; 'grant-revoked' (their grant is revoked, the new grant's client
   * or user no longer exists, or a token exchanged from another, RFC 8693, has a revoked subject
   * token), 'conflict' (the given grant's pair already has another live grant,
   * as for saveGrant) and 'credential-changed' store nothing.
   */
  issueTokens(
    tokens: TokenRecord[], audit: AuditInput[], grant?: GrantRecord, checked?: CheckedCredentials,
  ): Promise<'issued' | 'conflict' | 'grant-revoked' | 'credential-changed'>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  listTokens(filter: TokenFilter): Promise<TokenRecord[]>;
  /**
   * Consumes a refresh token and stores its successors, atomically. 'already-used' (consumed,
   * revoked, or consumed before `graceSince`) and 'grant-revoked' store nothing. A token consumed
   * at or after `graceSince` may be rotated again (the benign-retry window). 'credential-changed'
   * stores nothing and consumes nothing. Racing a revocation of the token's family or grant, the
   * rotation either commits first (the revocation then revokes the successors too) or answers
   * 'already-used' or 'grant-revoked': no live successor ever outlives the revocation.
   */
  rotateRefresh(oldId: string, at: number, graceSince: number | null, tokens: TokenRecord[], audit: AuditInput[], checked?: CheckedCredentials): Promise<ClaimResult>;

  // revocation
  /**
   * Revokes every unrevoked token the target covers (and the grants, for grant/user/client
   * targets; a client target also covers the tokens exchanged for that client on other clients'
   * grants, TokenRecord.exchangedFrom) and deletes the unredeemed codes it covers; a family
   * target deletes the code whose id names it, redeemed or not, so that a replay after the first
   * (RFC 6749 §4.1.2) finds no code and is refused without another revocation or audit record.
   * Already-revoked rows keep their revocation time and are not counted.
   * When it newly revokes at least one access token, it appends a FeedEvent in the same
   * transaction (so do deleteClient, deleteUser and setPassword, with a client or user target);
   * a client target also appends a grant event for each of its grants whose access tokens were
   * exchanged for other clients (a guard matches a client event by `client_id`, theirs). A user
   * or client event covers the tokens issued before `at`; each access token such a revocation
   * revokes that was issued at or after `at` (written while the revocation waited) gets a token
   * event of its own.
   */
  revoke(target: RevocationTarget, at: number, audit: AuditInput[]): Promise<RevocationResult>;
  /**
   * Calls `listener` after feed events may have been appended: at once after a write through this
   * store, and for one committed by another process or instance as soon as the store notices
   * (SQLite: within 100 ms, by polling; PostgreSQL: at its commit, by NOTIFY). It may call when
   * nothing was appended; a listener reads the feed from its cursor. Returns the unsubscribe function.
   */
  onFeedAppended(listener: () => void): () => void;
  /**
   * Feed events with seq > after, oldest first, at most `limit`. seq order is commit order, so a
   * reader that passes the last seq it saw as `after` misses no event committed since.
   */
  readFeed(after: number, limit: number): Promise<FeedEvent[]>;
  /** The seq of the newest feed event, 0 if there is none: a stream that starts there misses nothing later. */
  feedHead(): Promise<number>;

  // lifecycle webhooks
  /**
   * Stores a subscription with its audit records. From its commit on, every write (through any
   * store on the database) whose audit records name one of its events adds a pending delivery in
   * its own transaction; a store may cache subscriptions, but never so that a write committed
   * after the subscription's commit misses it.
   */
  createWebhook(webhook: WebhookRecord, audit: AuditInput[]): Promise<void>;
  listWebhooks(): Promise<WebhookRecord[]>;
  /** Deletes the subscription and its deliveries, with its audit records; false (nothing appended) if there is none. */
  deleteWebhook(id: string, audit: AuditInput[]): Promise<boolean>;
  /** Deliveries, newest first (at, then id), at most `limit` (default 100). */
  listDeliveries(filter: DeliveryFilter): Promise<WebhookDelivery[]>;
  /** How many deliveries are pending (not yet delivered, not given up): the webhook backlog (an index-backed count). */
  countPendingDeliveries(): Promise<number>;
  /**
   * Claims at most `limit` pending deliveries due at `at` (oldest due first) for one attempt: each
   * is next due at `leaseUntil` instead, so no other caller on any connection claims it until then
   * (a worker that dies mid-attempt loses nothing). Two concurrent claims never return the same delivery.
   */
  claimDeliveries(at: number, limit: number, leaseUntil: number): Promise<ClaimedDelivery[]>;
  /**
   * Records an attempt (attempts + 1, its status and error): delivered, pending again at
   * `nextAttemptAt`, or failed (with `audit`, in the same transaction). Nothing if the delivery is
   * gone (its subscription was deleted) or already finished.
   */
  recordDelivery(id: string, attempt: DeliveryAttempt, audit: AuditInput[]): Promise<void>;

  // expiry
  /**
   * Deletes at most `limit` rows that no longer matter; returns how many (a call that returns less
   * than `limit` left nothing more to delete before `before`):
   * - tokens, codes, pushed requests, device codes, browser sessions, client assertion and DPoP proof records and
   *   initial access tokens that expired before `before`;
   * - feed events whose `until` is before `before`;
 * - webhook deliveries delivered or failed before `before`;
   * - grants revoked before `before`, with their tokens (all revoked with the grant, so inactive
   *   however far from expiry). A grant goes only once none of its tokens is left, so every token
   *   keeps its grant; its codes expire on their own (redeeming one finds no grant).
   * Live grants, and tokens of live grants that have not expired (revoked or consumed ones too:
   * reuse detection needs them), are never deleted; feed events are kept to their own `until`
   * whatever happens to the grants they name, and the audit log is never touched.
   */
  sweepExpired(before: number, limit: number): Promise<number>;
  /**
   * The stored tokens by kind, state (TokenState) and client at `at`, for the metrics gauge and the
   * admin API's stats. It reads the whole table, so callers read it seldom (metrics/token-census.ts
   * caches it); a store must not hold up its other callers for the length of the count (SQLite
   * counts in slices, yielding between them).
   */
  countTokens(at: number): Promise<TokenCensus>;

  // operations
  /**
   * GET /readyz: the database answers a read, its schema is the version this Tessera knows, and
   * the writer (SQLite's writer, PostgreSQL's pool in a read-write transaction) commits. Never
   * rejects: a failure is the answer.
   */
  readiness(): Promise<Readiness>;

  // browser sessions
  /** Stores a browser session; 'credential-changed' (the password checked at login changed) stores nothing. */
  createSession(session: SessionRecord, checked?: CheckedCredentials): Promise<'created' | 'credential-changed'>;
  findSessionByHash(hash: string): Promise<SessionRecord | undefined>;
  deleteSession(hash: string): Promise<void>;
  /** Ends a browser session (sign-out) with its audit records; false, appending nothing, if there was none. */
  endSession(hash: string, audit: AuditInput[]): Promise<boolean>;

  // keys
  listKeys(): Promise<KeyRecord[]>;
  /**
   * Adds a key and marks the current keys of its alg (only) to retire at `retireAt`. With
   * `retireAt` null it is the algorithm's first key: added only if the store has no key of that
   * alg, so processes starting together on a new store make one, not one each (false, nothing
   * written, when another got there first).
   */
  addKey(key: KeyRecord, retireAt: number | null, audit: AuditInput[]): Promise<boolean>;

  // admin API (issue 13)
  /** Stores an admin token with its audit records; 'conflict' (nothing stored) when its name is taken. */
  createAdminToken(token: AdminTokenRecord, audit: AuditInput[]): Promise<'created' | 'conflict'>;
  getAdminToken(id: string): Promise<AdminTokenRecord | undefined>;
  /** Every admin token, revoked ones too, oldest first. */
  listAdminTokens(): Promise<AdminTokenRecord[]>;
  /** Revokes the admin token at `at` with its audit records; false (nothing stored) if there is none or it was revoked. */
  revokeAdminToken(id: string, at: number, audit: AuditInput[]): Promise<boolean>;
  /** A page of clients (never cached: read from the database), or of users: see PrincipalQuery. */
  pageClients(query: PrincipalQuery): Promise<PrincipalPage<ClientRecord>>;
  pageUsers(query: PrincipalQuery): Promise<PrincipalPage<UserRecord>>;
  /** A page of tokens: see TokenQuery for the order and its stability. */
  pageTokens(query: TokenQuery): Promise<TokenRecord[]>;
  /** A page of grants: see GrantQuery. */
  pageGrants(query: GrantQuery): Promise<GrantRecord[]>;
  /** A page of audit records: see AuditQuery. */
  queryAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /** Audit records per minute from `since` (ms, rounded down to the minute) on; minutes without any are left out. */
  auditPerMinute(since: number): Promise<Array<{ minute: number; events: number }>>;

  // audit
  appendAudit(audit: AuditInput[]): Promise<void>;
  /** Records with seq > after, oldest first (seq orders each chain; see Guarantees: not a tail cursor). */
  readAudit(after: number, limit: number, since?: number): Promise<AuditRecord[]>;
  /** The head of every chain, chains 0…n-1 in order, to detect deletions at the tail (verifyChain). */
  auditHeads(): Promise<AuditHead[]>;

  close(): Promise<void>;
}

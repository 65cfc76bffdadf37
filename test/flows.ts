/**
 * OAuth flows for the HTTP suites, on top of helpers.ts: one server per describe block, client
 * authentication by registered method, codes from the real authorization endpoint, and a check after
 * every test that the server never answered 5xx.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type ClientRecord, hashSecret, type ServerConfig, type StartOptions, type UserRecord } from '@tessera/server';
import { createTestDatabase, type TestDatabase } from '@tessera/test-utils';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { Agent, field } from './agent.js';
import { startTestServer, type TestClient, type TestResponse, type TestServer } from './helpers.js';

export const REDIRECT_URI = 'https://app.example/cb';
export const PASSWORD = 'correct horse battery staple';

type ClientOptions = Partial<Omit<ClientRecord, 'id' | 'secretHash' | 'createdAt'>>;
type Form = Record<string, string>;

export interface Pkce {
  verifier: string;
  challenge: string;
}

/** RFC 7636 §4.1–4.2: a random verifier and its S256 challenge. */
export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The same credential with its last 43 characters (the secret bits of an opaque value, or a JWT's signature) replaced. */
export const forged = (value: string): string => value.slice(0, -43) + randomBytes(32).toString('base64url');

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every string the audit log must never hold for a credential: the value and its stored hash. */
export const forms = (secret: string) => [secret, hashSecret(secret)];

export class Harness {
  server!: TestServer;
  /** Responses with status ≥ 500 since the last check: any is a failure. */
  readonly serverErrors: string[] = [];
  private introspector: TestClient | undefined;
  private defaultUser: (UserRecord & { password: string }) | undefined;
  private readonly agents = new Map<string, Agent>();

  get engine() {
    return this.server.tessera.engine;
  }

  get store() {
    return this.server.tessera.store;
  }

  private record(what: string, res: TestResponse): TestResponse {
    if (res.status >= 500) this.serverErrors.push(`${what} → ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  }

  /** POST a form, as helpers.ts does, watching for 5xx. */
  async post(path: string, form: Form | string, headers: Record<string, string> = {}): Promise<TestResponse> {
    return this.record(`POST ${path}`, await this.server.post(path, form, headers));
  }

  /** Any request, parsed like post(). */
  async request(path: string, init: RequestInit = {}): Promise<TestResponse> {
    const res = await fetch(this.server.url + path, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return this.record(`${init.method ?? 'GET'} ${path}`, { status: res.status, headers: res.headers, body });
  }

  client(options: ClientOptions = {}): Promise<TestClient> {
    return this.server.createClient(options);
  }

  /** A client for the authorization code flow (with refresh tokens unless told otherwise). */
  codeClient(options: ClientOptions = {}): Promise<TestClient> {
    return this.client({ grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], ...options });
  }

  async user(): Promise<UserRecord & { password: string }> {
    const user = await this.engine.createUser(`user-${randomBytes(6).toString('hex')}`, PASSWORD, { actor: 'test' });
    return { ...user, password: PASSWORD };
  }

  /** One user per server, for tests that do not care which. */
  async alice(): Promise<UserRecord & { password: string }> {
    this.defaultUser ??= await this.user();
    return this.defaultUser;
  }

  /** The form fields and headers a client authenticates with, by its registered method (RFC 6749 §2.3). */
  auth(c: TestClient): { form: Form; headers: Record<string, string> } {
    switch (c.client.authMethod) {
      case 'client_secret_basic':
        return { form: {}, headers: { authorization: c.basic } };
      case 'client_secret_post':
        return { form: { client_id: c.id, client_secret: c.secret as string }, headers: {} };
      default:
        return { form: { client_id: c.id }, headers: {} };
    }
  }

  /** POST to an endpoint as the client. */
  as(c: TestClient, path: string, form: Form): Promise<TestResponse> {
    const a = this.auth(c);
    return this.post(path, { ...a.form, ...form }, a.headers);
  }

  token(c: TestClient, form: Form): Promise<TestResponse> {
    return this.as(c, '/token', form);
  }

  refresh(c: TestClient, refreshToken: string, scope?: string): Promise<TestResponse> {
    return this.token(c, { grant_type: 'refresh_token', refresh_token: refreshToken, ...(scope === undefined ? {} : { scope }) });
  }

  revoke(c: TestClient, token: string, hint?: string): Promise<TestResponse> {
    return this.as(c, '/revoke', { token, ...(hint === undefined ? {} : { token_type_hint: hint }) });
  }

  introspect(c: TestClient, token: string): Promise<TestResponse> {
    return this.as(c, '/introspect', { token });
  }

  /** Whether the token is active, asked by a resource server that may see every client's tokens. */
  async active(token: string): Promise<boolean> {
    this.introspector ??= await this.client({ scope: 'tessera:introspect', grantTypes: ['client_credentials'] });
    const res = await this.introspect(this.introspector, token);
    expect(res.status).toBe(200);
    return res.body.active === true;
  }

  /** A browser signed in as the user (one per user, kept for the server's life). */
  async signedIn(user: { id: string; username: string; password: string }): Promise<Agent> {
    const known = this.agents.get(user.id);
    if (known) return known;
    const agent = new Agent(this.server.url);
    const login = await agent.get(`/login?return_to=${encodeURIComponent('/authorize?')}`);
    const res = await agent.post('/login', { username: user.username, password: user.password, csrf: field(login.body, 'csrf'), return_to: field(login.body, 'return_to') });
    expect(res.status).toBe(303);
    this.agents.set(user.id, agent);
    return agent;
  }

  /**
   * An authorization code from the real authorization endpoint. The user's consent is recorded
   * beforehand, so /authorize answers at once with a redirect carrying the code.
   */
  async code(
    c: TestClient,
    options: {
      user?: UserRecord & { password: string }; scope?: string; pkce?: Pkce | null; redirectUri?: string; params?: Record<string, string>;
      /** RFC 8707 resource parameters of the request, consented to beforehand like the scope. */
      resources?: string[];
    } = {},
  ): Promise<string> {
    const location = await this.authorizeRedirect(c, options);
    const code = new URL(location).searchParams.get('code');
    if (!code) throw new Error(`/authorize gave no code: ${location}`);
    return code;
  }

  /** As code(), the whole redirect back to the client (code, state, iss), for a client library to read. */
  async authorizeRedirect(
    c: TestClient,
    options: { user?: UserRecord & { password: string }; scope?: string; pkce?: Pkce | null; redirectUri?: string; params?: Record<string, string>; resources?: string[] } = {},
  ): Promise<string> {
    const user = options.user ?? (await this.alice());
    const scope = options.scope ?? c.client.scope;
    const agent = await this.signedIn(user);
    // Consent goes through the browser session, as the consent page's would.
    const session = await this.store.findSessionByHash(hashSecret(agent.cookies.get('tessera_session') ?? ''));
    if (!session) throw new Error('the signed-in agent has no live session');
    const resources = options.resources ?? [];
    await this.engine.recordConsent(c.client, user, new Set(scope.split(' ')), { actor: `user:${user.id}`, endpoint: '/consent' }, session, resources);
    const challenge = options.pkce === undefined ? pkce() : options.pkce;
    const redirectUri = options.redirectUri ?? REDIRECT_URI;
    const query = new URLSearchParams({
      response_type: 'code', client_id: c.id, redirect_uri: redirectUri, scope,
      ...(challenge ? { code_challenge: challenge.challenge, code_challenge_method: 'S256' } : {}),
      ...options.params,
    });
    for (const r of resources) query.append('resource', r);
    const res = await agent.get(`/authorize?${query}`);
    if (res.status !== 302 || res.location === undefined) throw new Error(`/authorize gave no redirect: ${res.status} ${res.body}`);
    return res.location;
  }

  /** Exchanges a code at the token endpoint (RFC 6749 §4.1.3). */
  exchange(c: TestClient, code: string, options: { verifier?: string; redirectUri?: string } = {}): Promise<TestResponse> {
    return this.token(c, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: options.redirectUri ?? REDIRECT_URI,
      ...(options.verifier === undefined ? {} : { code_verifier: options.verifier }),
    });
  }

  /** The whole code flow with PKCE: returns the token response body (asserting 200). */
  async userTokens(c: TestClient, options: { user?: UserRecord & { password: string }; scope?: string } = {}): Promise<{ access_token: string; refresh_token?: string; scope: string; expires_in: number }> {
    const p = pkce();
    const code = await this.code(c, { ...options, pkce: p });
    const res = await this.exchange(c, code, { verifier: p.verifier });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  }
}

/**
 * Starts a server for the enclosing describe block (or file) and stops it afterwards; after each
 * test, asserts that no response was a 5xx. `store: 'postgres'` serves from a new database on the
 * test PostgreSQL server (dropped afterwards) instead of a SQLite file.
 */
export function useServer(config: Partial<ServerConfig> = {}, options: { store?: 'sqlite' | 'postgres'; metrics?: StartOptions['metrics']; adminPort?: number } = {}): Harness {
  const h = new Harness();
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    if (options.store === 'postgres') database = await createTestDatabase('tessera_http');
    h.server = await startTestServer(config, { ...(database ? { db: database.url } : {}), metrics: options.metrics, adminPort: options.adminPort });
  });
  afterEach(() => {
    const seen = h.serverErrors.splice(0);
    expect(seen, 'the server answered 5xx').toEqual([]);
  });
  afterAll(async () => {
    await h.server?.close();
    await database?.drop();
  });
  return h;
}

/** RFC 6749 §5.2 error shape, with the no-store header every token-endpoint response carries. */
export function expectError(res: TestResponse, status: number, error: string | string[]): void {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error: Array.isArray(error) ? expect.toBeOneOf(error) : error });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
}

/**
 * Where the issuer's JWKS, introspection endpoint and revocation feed are: its authorization
 * server metadata (RFC 8414), fetched once and kept; endpoints given in the options win.
 */
import type { GuardEndpoints } from './options.js';
import { GuardConfigurationError, httpError, IssuerMismatchError, networkError } from './errors.js';

const FIELDS: Record<keyof GuardEndpoints, string> = {
  jwks: 'jwks_uri',
  introspection: 'introspection_endpoint',
  feed: 'tessera_revocation_feed_endpoint',
  stream: 'tessera_revocation_stream_endpoint',
};

/** RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. */
export function metadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

export class Discovery {
  private found: GuardEndpoints | undefined;
  private pending: Promise<GuardEndpoints> | undefined;

  constructor(
    private readonly issuer: string,
    private readonly overrides: Partial<GuardEndpoints>,
    private readonly options: { fetch: typeof fetch; timeout: number },
  ) {}

  /** The endpoints; a failure is not kept, so the next call tries again. */
  get(): Promise<GuardEndpoints> {
    if (this.found) return Promise.resolve(this.found);
    this.pending ??= this.load().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async load(): Promise<GuardEndpoints> {
    const known = Object.keys(FIELDS).every((k) => this.overrides[k as keyof GuardEndpoints] !== undefined);
    const meta = known ? {} : await this.fetchMetadata();
    const endpoints = {} as GuardEndpoints;
    for (const [key, field] of Object.entries(FIELDS) as [keyof GuardEndpoints, string][]) {
      const value = this.overrides[key] ?? meta[field];
      if (typeof value !== 'string') throw new GuardConfigurationError(`the issuer's metadata has no ${field} (is ${this.issuer} a Tessera server?)`);
      endpoints[key] = value;
    }
    this.found = endpoints;
    return endpoints;
  }

  private async fetchMetadata(): Promise<Record<string, unknown>> {
    const url = metadataUrl(this.issuer);
    let res: Response;
    try {
      res = await this.options.fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.options.timeout) });
    } catch (cause) {
      throw networkError(`the issuer's metadata (${url})`, cause);
    }
    if (res.status !== 200) throw await httpError(`the issuer's metadata (${url})`, res, true);
    const meta = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (typeof meta !== 'object' || meta === null) throw new GuardConfigurationError(`the issuer's metadata (${url}) is not a JSON object`);
    // RFC 8414 §3.3: the issuer in the document MUST be identical to the one it was fetched for.
    if (meta.issuer !== this.issuer) {
      const hint = typeof meta.issuer === 'string' && meta.issuer.replace(/\/$/, '') === this.issuer.replace(/\/$/, '') ? ' (they differ by a trailing slash)' : '';
      throw new IssuerMismatchError(`the metadata names issuer ${JSON.stringify(meta.issuer)}, not ${JSON.stringify(this.issuer)}: RFC 8414 §3.3 requires them identical${hint}`);
    }
    return meta;
  }
}

import type { Actor, Issued, LifecycleEngine } from '../../lifecycle/engine.js';
import type { ClientRecord, GrantType } from '../../store/types.js';

/** A grant the token endpoint can dispatch to: it declares its parameters and handles them. */
export interface TokenGrant {
  grantType: GrantType;
  /** Parameters the grant accepts, besides grant_type and client authentication. */
  params: readonly string[];
  handle(ctx: {
    engine: LifecycleEngine;
    client: ClientRecord;
    params: Record<string, string | undefined>;
    /** The whole form, for a parameter a grant's specification lets repeat (RFC 8693 §2.1 audience). */
    body: URLSearchParams;
    by: Actor;
    /** The client's IP address (http/client-address.ts), for sign-in throttling. */
    address: string | undefined;
    /** The key of the request's DPoP proof (RFC 9449 §5), which the tokens are bound to; null without one. */
    jkt: string | null;
    /** RFC 8707: the one resource the request names (rfc8707/resource.ts), allowed for the client; the access token's audience. */
    resource: string | undefined;
  }): Promise<Issued>;
}

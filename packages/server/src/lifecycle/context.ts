/**
 * What every lifecycle step (principals.ts, grants.ts, issue.ts, codes.ts, rotate-refresh.ts,
 * revoke.ts, …) works with: the store, the settings, the signing keys, the clock, and how to tell
 * subscribers of a revocation. The engine (engine.ts) builds one and keeps it to itself.
 */
import type { ServerConfig } from '../config.js';
import type { AuditInput, GrantRecord, RevocationResult, RevocationTarget, Store } from '../store/types.js';
import type { KeyRing } from './keys.js';

/** Who caused an event: `client:ID`, `user:ID`, `cli`, `system`. */
export interface Actor {
  actor: string;
  endpoint?: string;
  reason?: string;
}

export interface RevocationEvent {
  target: RevocationTarget;
  result: RevocationResult;
  at: number;
  reason: string;
}

export interface EngineEvents {
  revoked: [RevocationEvent];
  /** Failed sign-ins from one client address (its throttling key) started its back-off over all accounts. */
  signInAddressThrottled: [{ address: string }];
}

/** Who a revocation concerns, for its audit record. */
export type AuditSubject = Pick<AuditInput, 'clientId' | 'userId' | 'grantId'>;

export interface EngineContext {
  readonly store: Store;
  readonly config: ServerConfig;
  readonly keys: KeyRing;
  readonly now: () => number;
  /** The key sealing client_secret_jwt secrets (config.clientSecretKeyFile, read on first use); undefined when unset. */
  readonly sealingKey: () => Buffer | undefined;
  /** Each client's client_credentials grant, by client id (issue.ts). */
  readonly clientGrants: Map<string, GrantRecord>;
  /** Tells the engine's subscribers (the feed fan-out, guards through it) that a revocation committed. */
  emitRevoked(target: RevocationTarget, result: RevocationResult, at: number, reason: string): void;
}

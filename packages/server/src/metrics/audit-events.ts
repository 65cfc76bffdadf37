/**
 * The one place lifecycle events are counted for the metrics: the engine's writes to the store,
 * each carrying the audit records it commits. Every state change is audited in its own write
 * (store/types.ts: all of its rows with its audit records, or nothing), so counting the records of
 * the writes that answered success counts exactly what the audit log gained, by event
 * (`token.issued`, `token.rotated`, `token.revoked`, `token.reuse_detected`, `code.issued`, …).
 *
 * Only `tessera serve` with a metrics listener wraps its store so; without one nothing is counted
 * and the engine calls the store directly.
 */
import type { AuditInput, Store } from '../store/types.js';

/** Store methods that carry audit records, each with the records its answer says were committed. */
type Audited = {
  [K in keyof Store]?: Store[K] extends (...args: infer A) => Promise<infer R> ? (args: A, result: R) => readonly AuditInput[] : never;
};

const NONE: readonly AuditInput[] = [];

/** What each write committed: its audit records when it answered success (store/types.ts), none otherwise. */
const COMMITTED = {
  createClient: ([, audit], r) => (r === 'created' ? [audit] : NONE),
  setClientSecret: ([, , audit], r) => (r ? audit : NONE),
  updateClient: ([, , audit], r) => (r ? audit : NONE),
  createInitialAccessToken: ([, audit]) => audit,
  deleteClient: ([, , audit], r) => (r ? audit : NONE),
  createUser: ([, audit]) => [audit],
  deleteUser: ([, , audit], r) => (r ? audit : NONE),
  setUserProfile: ([, , audit], r) => (r ? audit : NONE),
  setPassword: ([, , , audit], r) => (r ? audit : NONE),
  saveGrant: ([, audit], r) => (r === 'saved' ? audit : NONE),
  createCode: ([, audit], r) => (r === 'created' ? audit : NONE),
  redeemCode: ([, , , audit], r) => (r === 'claimed' ? audit : NONE),
  createPushedRequest: ([, audit], r) => (r === 'created' ? audit : NONE),
  createDeviceCode: ([, audit], r) => (r === 'created' ? audit : NONE),
  decideDeviceCode: ([, , , audit], r) => (r === 'decided' ? audit : NONE),
  redeemDeviceCode: ([, , , audit], r) => (r === 'claimed' ? audit : NONE),
  issueTokens: ([, audit], r) => (r === 'issued' ? audit : NONE),
  rotateRefresh: ([, , , , audit], r) => (r === 'claimed' ? audit : NONE),
  revoke: ([, , audit]) => audit,
  endSession: ([, audit], r) => (r ? audit : NONE),
  addKey: ([, , audit], r) => (r ? audit : NONE),
  createWebhook: ([, audit]) => audit,
  deleteWebhook: ([, audit], r) => (r ? audit : NONE),
  createAdminToken: ([, audit], r) => (r === 'created' ? audit : NONE),
  revokeAdminToken: ([, , audit], r) => (r ? audit : NONE),
  appendAudit: ([audit]) => audit,
} satisfies Audited;

type AuditedName = keyof typeof COMMITTED;
type AnyWrite = (...args: unknown[]) => Promise<unknown>;

/**
 * The store as the engine sees it, calling `count` with each audit record's event once its write
 * has committed. Every other method is the store's own, bound to it.
 */
export function countingAuditEvents(store: Store, count: (event: string) => void): Store {
  const counted: Record<string, unknown> = {};
  for (let proto: object | null = store; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const value = (store as unknown as Record<string, unknown>)[name];
      if (name !== 'constructor' && !(name in counted) && typeof value === 'function') counted[name] = value.bind(store);
    }
  }
  for (const name of Object.keys(COMMITTED) as AuditedName[]) {
    const write = (store[name] as AnyWrite).bind(store);
    const committed = COMMITTED[name] as (args: unknown[], result: unknown) => readonly AuditInput[];
    counted[name] = async (...args: unknown[]) => {
      const result = await write(...args);
      for (const record of committed(args, result)) count(record.event);
      return result;
    };
  }
  return counted as unknown as Store;
}

/**
 * The revocation feed on the wire, shared by the list endpoint (JSON) and the stream (Server-Sent
 * Events). Each event names what was revoked, by the JWT claim a guard matches it against:
 *
 * | type            | value                 | covers access tokens whose …                       |
 * | --------------- | --------------------- | -------------------------------------------------- |
 * | `token`         | token id              | `jti` is the value                                 |
 * | `family`        | family id             | `tessera_family` is the value                      |
 * | `grant`         | grant id              | `tessera_grant` is the value                       |
 * | `user`          | user id               | `sub` is the value, issued before `at`             |
 * | `client`        | client id             | `client_id` is the value, issued before `at`       |
 * | `issued_before` | instant (ms)          | issue time is before the value                     |
 *
 * Times are milliseconds since the epoch; `until` is the latest expiry among the access tokens the
 * event revoked: past it, every token it covers has expired and the event can be forgotten.
 */
import type { FeedEvent } from '../store/types.js';

export type WireEventType = 'token' | 'family' | 'grant' | 'user' | 'client' | 'issued_before';

export interface WireEvent {
  cursor: number;
  type: WireEventType;
  value: string | number;
  at: number;
  until: number;
}

export function toWire(e: FeedEvent): WireEvent {
  const [kind, value] = Object.entries(e.target)[0] as [string, string | number];
  const type = (kind === 'issuedBefore' ? 'issued_before' : kind) as WireEventType;
  return { cursor: e.seq, type, value, at: e.at, until: e.until };
}

/** One SSE event (WHATWG HTML §9.2.6): `id` is the cursor, so a reconnect resumes with Last-Event-ID. */
export function sseFrame(e: FeedEvent): string {
  return `id: ${e.seq}\nevent: revocation\ndata: ${JSON.stringify(toWire(e))}\n\n`;
}

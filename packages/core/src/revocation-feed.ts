/**
 * The revocation feed on the wire (GET /revocations and /revocations/stream): the server sends
 * these events and a guard applies them. Each names what was revoked, by the JWT claim a guard
 * matches it against:
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
 * A client's revocation also covers the tokens of its grants exchanged for other clients (RFC
 * 8693), whose `client_id` names the client that exchanged: it comes with a `grant` event for each
 * such grant.
 *
 * Times are milliseconds since the epoch; `until` is the latest expiry among the access tokens the
 * event revoked: past it, every token it covers has expired and the event can be forgotten.
 */
export type WireEventType = 'token' | 'family' | 'grant' | 'user' | 'client' | 'issued_before';

/** One revocation feed event, as the server sends it. */
export interface WireEvent {
  /** The event's position in the feed: ask for the events after it (`after`, Last-Event-ID). */
  cursor: number;
  type: WireEventType;
  value: string | number;
  at: number;
  until: number;
}

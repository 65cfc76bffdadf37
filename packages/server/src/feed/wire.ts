/**
 * The revocation feed on the wire (the event type is @tessera/core's WireEvent, which guards read),
 * shared by the list endpoint (JSON) and the stream (Server-Sent Events).
 */
import type { WireEvent, WireEventType } from '@tessera/core';
import type { FeedEvent } from '../store/types.js';

export function toWire(e: FeedEvent): WireEvent {
  const [kind, value] = Object.entries(e.target)[0] as [string, string | number];
  const type = (kind === 'issuedBefore' ? 'issued_before' : kind) as WireEventType;
  return { cursor: e.seq, type, value, at: e.at, until: e.until };
}

/** One SSE event (WHATWG HTML §9.2.6): `id` is the cursor, so a reconnect resumes with Last-Event-ID. */
export function sseFrame(e: FeedEvent): string {
  return `id: ${e.seq}\nevent: revocation\ndata: ${JSON.stringify(toWire(e))}\n\n`;
}

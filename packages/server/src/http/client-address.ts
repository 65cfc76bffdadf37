import type { PlainRequest } from './types.js';

/**
 * The client's IP address: the socket's peer, or, behind a proxy trusted to set it
 * (`trustForwardedFor`), the last X-Forwarded-For entry (the one that proxy appended; earlier
 * entries are whatever the client sent).
 */
export function clientAddress(req: PlainRequest, trustForwardedFor: boolean): string | undefined {
  if (trustForwardedFor) {
    const last = req.headers['x-forwarded-for']?.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return req.remoteAddress;
}

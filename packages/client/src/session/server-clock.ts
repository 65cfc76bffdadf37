/**
 * The authorization server's clock as this process estimates it, from the `Date` header of token
 * responses (RFC 9110 §6.6.1), so that `expires_at` means the same instant on every machine that
 * shares a token, however wrong their clocks.
 */

/**
 * Differences below this many seconds are the Date header's whole-second resolution plus the
 * response's latency, not a wrong clock: they count as none.
 */
export const SKEW_IGNORED_BELOW = 2;

export class ServerClock {
  /** Seconds to add to the local clock to read the server's (0 until a response says otherwise). */
  offset = 0;

  /**
   * Learns the offset from a response's Date header, at the moment of receipt. Date is the
   * server's second, rounded down, when it answered: its middle (+0.5 s) is the best guess.
   */
  observe(response: Response, receivedAt = Date.now()): void {
    const date = Date.parse(response.headers.get('date') ?? '');
    if (Number.isNaN(date)) return;
    const offset = (date + 500 - receivedAt) / 1000;
    this.offset = Math.abs(offset) < SKEW_IGNORED_BELOW ? 0 : offset;
  }

  /** The server's epoch time now, in (fractional) seconds. */
  now(): number {
    return Date.now() / 1000 + this.offset;
  }
}

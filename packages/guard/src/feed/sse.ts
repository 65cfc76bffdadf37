/**
 * A Server-Sent Events parser (WHATWG HTML §9.2.6, "interpreting an event stream") over text
 * chunks as they arrive: lines end in CRLF, LF or CR; `:` starts a comment; a blank line
 * dispatches the event. Small on purpose: eventsource-parser v4 needs Node 22.
 */

export interface SseEvent {
  /** The `event` field, or 'message'. */
  type: string;
  data: string;
  /** The last event ID seen so far on the stream (it persists across events, §9.2.6). */
  lastEventId: string;
}

export class SseParser {
  private buffer = '';
  private started = false;
  private type = '';
  private data: string[] = [];
  private lastEventId = '';

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  /** Feeds decoded text; complete lines are interpreted, a partial one waits for the next chunk. */
  push(text: string): void {
    this.buffer += text;
    if (!this.started && this.buffer.length > 0) {
      // §9.2.5: one leading U+FEFF BOM is ignored.
      if (this.buffer.charCodeAt(0) === 0xfeff) this.buffer = this.buffer.slice(1);
      this.started = true;
    }
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (c === 13 && i === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, i));
      if (c === 13 && this.buffer.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment (heartbeats)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    // `retry` and unknown fields are ignored: the guard keeps its own backoff.
  }

  private dispatch(): void {
    const type = this.type || 'message';
    const data = this.data;
    this.type = '';
    this.data = [];
    if (data.length === 0) return;
    this.onEvent({ type, data: data.join('\n'), lastEventId: this.lastEventId });
  }
}

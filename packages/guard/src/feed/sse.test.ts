import { describe, expect, it } from 'vitest';
import { type SseEvent, SseParser } from './sse.js';

function parse(...chunks: string[]): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const c of chunks) parser.push(c);
  return events;
}

describe('SseParser (WHATWG HTML §9.2.6)', () => {
  it('dispatches on a blank line, with the event type, the data and the last event id', () => {
    expect(parse('id: 7\nevent: revocation\ndata: {"a":1}\n\n')).toEqual([{ type: 'revocation', data: '{"a":1}', lastEventId: '7' }]);
  });

  it('lines may end in CRLF, LF or CR, and a CRLF may be split across chunks', () => {
    const expected = [{ type: 'message', data: 'x', lastEventId: '' }, { type: 'message', data: 'y', lastEventId: '' }];
    // A final CR waits for the next chunk: it may be half of a CRLF.
    expect(parse('data: x\r\n\r\ndata: y\r\r')).toEqual(expected.slice(0, 1));
    expect(parse('data: x\r\n\r\ndata: y\r\r', ': next\n')).toEqual(expected);
    expect(parse('data: x\r', '\n\r', '\ndata: y\n', '\n')).toEqual(expected);
  });

  it('a field split anywhere across chunks is reassembled', () => {
    const text = 'id: 12\nevent: revocation\ndata: {"cursor":12}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      expect(parse(text.slice(0, cut), text.slice(cut))).toEqual([{ type: 'revocation', data: '{"cursor":12}', lastEventId: '12' }]);
    }
  });

  it('comments (heartbeats) and retry are ignored; several data lines join with LF; no data, no event', () => {
    expect(parse(': heartbeat\n\nretry: 1000\n\nevent: x\n\ndata: a\ndata: b\n\n')).toEqual([{ type: 'message', data: 'a\nb', lastEventId: '' }]);
  });

  it('the last event id persists across events until changed; a leading BOM is skipped; only one space after the colon is removed', () => {
    expect(parse('\uFEFFid: 1\ndata:a\n\ndata:  b\n\n')).toEqual([
      { type: 'message', data: 'a', lastEventId: '1' },
      { type: 'message', data: ' b', lastEventId: '1' },
    ]);
  });
});

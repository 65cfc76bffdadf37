/**
 * Text in a parsed JSON body that the stores disagree on (NUL, lone surrogates): found once, for
 * every JSON endpoint, by the HTTP adapter, and answered in each endpoint's error shape.
 */
import { OAuthError } from '@tessera/core';

/** A JSON body holding text no store keeps as sent (unstorableText); `pointer` (RFC 6901) names where, from the body's root. */
export class UnstorableText extends OAuthError {
  constructor(
    error: 'invalid_request' | 'invalid_client_metadata',
    readonly pointer: string,
    detail: string,
  ) {
    super(error, `${detail} (at ${pointer === '' ? 'the body' : pointer})`);
  }
}

const LONE_SURROGATE = /\p{Cs}/u;
const pointerToken = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
function textProblem(text: string): string | undefined {
  if (text.includes('\0')) return 'a NUL character, which no field may hold';
  if (LONE_SURROGATE.test(text)) return 'a lone surrogate, which is not text (RFC 8259 §8.2)';
  return undefined;
}

/**
 * The first member name or string in a parsed JSON body that holds text the stores disagree on,
 * both written as \u escapes: NUL, which SQLite keeps and PostgreSQL refuses, and a lone
 * surrogate, which has no Unicode meaning (RFC 8259 §8.2) and which PostgreSQL refuses or turns
 * into U+FFFD. No field has a use for either: the body is refused, the same way on both stores.
 * A member name is reported at its object's pointer (the name itself is the bad text). Walked
 * with a stack of its own: a body may nest deeper than the call stack.
 */
export function unstorableText(body: unknown): { pointer: string; detail: string } | undefined {
  const stack: [unknown, string][] = [[body, '']];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, pointer] = next;
    if (typeof value === 'string') {
      const detail = textProblem(value);
      if (detail !== undefined) return { pointer, detail: `the request body holds ${detail}` };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${pointer}/${i}`]);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, member] of Object.entries(value).reverse()) {
        const detail = textProblem(key);
        if (detail !== undefined) return { pointer, detail: `a member name in the request body holds ${detail}` };
        stack.push([member, `${pointer}/${pointerToken(key)}`]);
      }
    }
  }
  return undefined;
}

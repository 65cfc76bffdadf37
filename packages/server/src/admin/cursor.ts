/**
 * Opaque page cursors: base64url of the last row's key, so a client never builds one and the
 * key's shape can change. A cursor that does not decode is a 400.
 */
import type { PrincipalPage } from '../store/types.js';
import { Problem } from './problem.js';

export const encodeCursor = (key: string | number): string => Buffer.from(JSON.stringify([key])).toString('base64url');

export function decodeCursor<T extends 'string' | 'number'>(cursor: string, type: T): T extends 'string' ? string : number {
  try {
    const [key] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // A forged key never reaches the database: a seq is a safe whole number, an id a short printable string.
    if (type === 'number' && Number.isSafeInteger(key) && (key as number) >= 0) return key as T extends 'string' ? string : number;
    if (type === 'string' && typeof key === 'string' && /^[\x21-\x7e]{1,200}$/.test(key)) return key as T extends 'string' ? string : number;
  } catch {}
  throw new Problem(400, 'cursor is not one this API returned', [{ pointer: '/query/cursor', detail: 'not a cursor from next_cursor' }]);
}

/** One page out of `limit + 1` rows: the rows to show and the cursor to the next page, null at the end. */
export function page<R, K extends string | number>(rows: R[], limit: number, key: (row: R) => K): { items: R[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next_cursor: rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null };
}

/** A page of clients or users: a search that stopped at its bound resumes after the last row it read. */
export function principalPage<R extends { id: string }>(found: PrincipalPage<R>, limit: number): { items: R[]; next_cursor: string | null } {
  const shown = page(found.rows, limit, (r) => r.id);
  return shown.next_cursor === null && found.scannedTo !== null ? { items: shown.items, next_cursor: encodeCursor(found.scannedTo) } : shown;
}

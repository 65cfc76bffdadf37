/**
 * The zod schemas the admin API validates with and documents itself by (openapi.ts): shared
 * pieces here, each collection's own in its routes file. Query values arrive as strings.
 */
import { z } from 'zod';
import { UNPRINTABLE } from '../lifecycle/user-rules.js';
import { SEARCH_SCAN } from '../store/admin-sql.js';

/** Rows per page unless `limit` says otherwise, and the most it may ask for. */
export const PAGE = 50;
export const MAX_PAGE = 500;

/** An ISO 8601 date-time (RFC 3339) in a query or body, as ms since the epoch. */
export const isoTime = z.iso.datetime({ offset: true }).transform((v) => Date.parse(v));

/**
 * A query value that is a whole number written in decimal digits, as the OpenAPI document's
 * `integer` says; anything else (0x2, 1e1, 5.0, spaces) stays a string and is refused, where
 * Number() would have read it as some number.
 */
const digits = (v: unknown) => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v);

/** `limit` and `cursor` of every listing. */
export const paging = {
  limit: z.preprocess(digits, z.number().int().min(1).max(MAX_PAGE)).default(PAGE).describe(`rows per page (at most ${MAX_PAGE})`),
  cursor: z.string().max(512).optional().describe('next_cursor of the previous page'),
};

/** `q` of the client and user listings: a substring to search for, ignoring case; empty: no search. */
export const search = z
  .string()
  .max(200)
  .transform((v) => v.trim() || undefined)
  .optional()
  .describe(`only rows containing this, ignoring case (% and _ are plain characters); a search reads at most ${SEARCH_SCAN.toLocaleString('en-US')} rows a request, so a page may be short (even empty) and still have a next_cursor`);

/** A page of `item`: the rows, and the cursor to the next page (null on the last). */
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable() });

/** Text a person reads (in the audit log, the console): no control characters, NUL included, nor bidirectional overrides. */
export const printable = z.string().min(1).refine((v) => !UNPRINTABLE.test(v), 'must not contain control characters or bidirectional overrides');

/** An id in a query filter (every id is short and printable). */
export const id = printable.max(128);

/** Times in answers: ISO 8601, UTC. */
export const time = z.string().describe('ISO 8601 time (UTC)');

/** What a revocation (or a deletion) revoked. */
export const revoked = z.object({ revoked_tokens: z.number().int(), revoked_grants: z.number().int() });

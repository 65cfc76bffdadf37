/**
 * What a user's username, name and email may be, and how a profile changes, for every way an
 * operator manages users (`tessera user …` and the admin API). Each check answers a sentence
 * naming the field as the caller's user knows it (`--email`, `email`), or undefined when fine.
 */
import type { UserProfile } from '../store/types.js';

/**
 * Control characters (C0, DEL, C1) and the bidirectional embeddings, overrides and isolates
 * (Unicode UAX #9: U+202A–U+202E, U+2066–U+2069): printed raw by the CLI, these rewrite or reorder
 * what an operator's terminal shows. No name or id needs one. Also a lone surrogate (a JSON
 * `\ud800` decodes to one), which is not Unicode text: PostgreSQL's jsonb refuses it.
 */
export const UNPRINTABLE = /[\p{Cc}\p{Cs}\u202A-\u202E\u2066-\u2069]/u;

/** Control characters and surrounding spaces only make logins fail in confusing ways. */
export function usernameProblem(value: string, label: string): string | undefined {
  return value === '' || value !== value.trim() || UNPRINTABLE.test(value) || value.length > 256
    ? `${label} must be 1 to 256 characters, without surrounding spaces, control characters or bidirectional overrides`
    : undefined;
}

/** The OpenID Connect `name` claim: every client that shows it gets it as it is. */
export function nameProblem(value: string, label: string): string | undefined {
  return value !== value.trim() || UNPRINTABLE.test(value) || value.length > 256
    ? `${label} must be at most 256 characters, without surrounding spaces, control characters or bidirectional overrides`
    : undefined;
}

/** A plain addr-spec check (RFC 5322 §3.4.1, without quoting or comments): one @, a dotless-or-dotted domain. */
export function emailProblem(value: string, label: string): string | undefined {
  return value.length > 254 || !/^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u.test(value) ? `${label} must be an email address like name@example.com` : undefined;
}

/**
 * The profile after a change: an empty name or email removes the claim; a changed email is
 * unverified unless the change says it is verified. Undefined fields stay as they were.
 */
export function profileAfter(before: UserProfile, change: { name?: string; email?: string; emailVerified?: boolean }): UserProfile {
  const name = change.name === undefined ? before.name : change.name === '' ? null : change.name;
  const email = change.email === undefined ? before.email : change.email === '' ? null : change.email;
  const emailVerified = change.emailVerified ?? (email === before.email ? before.emailVerified : false);
  return { name, email, emailVerified };
}

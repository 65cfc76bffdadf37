/**
 * What a user's username, name and email may be, and how a profile changes, for every way an
 * operator manages users (`tessera user …` and the admin API). Each check answers a sentence
 * naming the field as the caller's user knows it (`--email`, `email`), or undefined when fine.
 */
import type { UserProfile } from '../store/types.js';

/** Control characters and surrounding spaces only make logins fail in confusing ways. */
export function usernameProblem(value: string, label: string): string | undefined {
  return value === '' || value !== value.trim() || /\p{Cc}/u.test(value) || value.length > 256
    ? `${label} must be 1 to 256 characters, without surrounding spaces or control characters`
    : undefined;
}

/** The OpenID Connect `name` claim: every client that shows it gets it as it is. */
export function nameProblem(value: string, label: string): string | undefined {
  return value !== value.trim() || /\p{Cc}/u.test(value) || value.length > 256
    ? `${label} must be at most 256 characters, without surrounding spaces or control characters`
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

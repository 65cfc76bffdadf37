/**
 * What a new password must be, in the spirit of NIST SP 800-63B §3.1.1.2: long enough, not too
 * long to hash, and not one of the passwords attackers try first. No composition rules and no
 * expiry (§3.1.1.2 says verifiers SHALL NOT impose them). Lengths count code points after NFKC,
 * the form that is hashed (secrets.ts).
 *
 * The list is the 49,233 most common passwords of @zxcvbn-ts/language-common (drawn by zxcvbn from
 * breach corpora), compared case-insensitively; it is loaded on first use, so only the commands
 * that set passwords pay for it.
 */
export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
}

let common: Promise<Set<string>> | undefined;

function commonPasswords(): Promise<Set<string>> {
  common ??= import('@zxcvbn-ts/language-common').then(({ dictionary }) => new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase())));
  return common;
}

/** Why the password is refused, in a sentence for the person choosing it; undefined if it is fine. */
export async function passwordProblem(password: string, policy: PasswordPolicy): Promise<string | undefined> {
  const length = [...password.normalize('NFKC')].length;
  if (length < policy.minLength) return `the password is too short: use at least ${policy.minLength} characters (a few words make a good one)`;
  if (length > policy.maxLength) return `the password is too long: use at most ${policy.maxLength} characters`;
  if ((await commonPasswords()).has(password.normalize('NFKC').toLowerCase())) {
    return 'the password is one of the most commonly used ones, which attackers try first: choose another';
  }
  return undefined;
}

import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Revoked, type Session } from '../api.js';
import type { Confirmation } from '../confirm.js';

export interface PageProps {
  session: Session;
  /** The session ended (a 401): back to sign-in. */
  onSignedOut: () => void;
}

/** Active tokens and grants matching a filter (one page of 500 each; `more` past that), for a confirmation's words. */
export async function activeCounts(session: Session, filter: string): Promise<{ tokens: number; grants: number; more: boolean }> {
  const [tokens, grants] = await Promise.all([
    api<{ items: unknown[]; next_cursor: string | null }>(session, 'GET', `/tokens?${filter}&state=active&limit=500`),
    api<{ items: unknown[]; next_cursor: string | null }>(session, 'GET', `/grants?${filter}&state=active&limit=500`),
  ]);
  return { tokens: tokens.items.length, grants: grants.items.length, more: tokens.next_cursor !== null || grants.next_cursor !== null };
}

export const when = (iso: string | null): string => (iso === null ? '—' : new Date(iso).toLocaleString());

/** Counts as words: "3 active tokens". */
export const count = (n: number, what: string, more = false): string => `${n}${more ? '+' : ''} ${what}${n === 1 && !more ? '' : 's'}`;

/** What every page does with a failed call: a 401 (the session is over) signs out; any other failure's message goes to `report`. */
export function failureHandler(onSignedOut: () => void, report: (message: string) => void): (err: unknown) => void {
  return (err) => {
    if (err instanceof ApiError && err.status === 401) onSignedOut();
    else report((err as Error).message);
  };
}

/**
 * The signed-in console's `onSignedOut`, for the parts a page renders without handing it down
 * (useFailureHandler). Outside the console (never, as rendered), a reload: the page then finds no
 * session and asks to sign in.
 */
export const SignedOut = createContext<() => void>(() => location.reload());

/** failureHandler with the console's own sign-out: for dialogs and forms inside a page. */
export const useFailureHandler = (report: (message: string) => void): ((err: unknown) => void) => failureHandler(useContext(SignedOut), report);

/** The confirmation that revokes a token, a grant or all of a user (POST /revocations) with the reason given, and says what it revoked. */
export function revocation(session: Session, type: 'token' | 'grant' | 'user', value: string, words: { title: string; message: string; action: string }): Confirmation {
  return {
    ...words,
    reason: true,
    run: async (reason) => {
      const r = await api<Revoked>(session, 'POST', '/revocations', { type, value, ...(reason ? { reason } : {}) });
      return `Revoked ${count(r.revoked_tokens, 'token')} and ${count(r.revoked_grants, 'grant')}.`;
    },
  };
}

/** A page's data: loaded by `load` now, again whenever `deps` change and on `refresh()`; a 401 signs out, another failure is the page's error. */
export function useLoaded<T>(onSignedOut: () => void, load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const failed = failureHandler(onSignedOut, setError);
  async function refresh() {
    try {
      setData(await load());
    } catch (err) {
      failed(err);
    }
  }
  useEffect(() => {
    refresh();
  }, deps);
  return { data, setData, error, setError, refresh };
}

/** A page's last error (announced at once) and last notice (announced politely). */
export function Messages({ error, notice }: { error: string | undefined; notice: string | undefined }) {
  return (
    <>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
    </>
  );
}

/**
 * A searchable list of clients or users, paged by the server: the search box sends `q` (after a
 * pause in typing), "Load more" follows the cursor, and each row's Delete asks for a confirmation
 * first. The page gives the columns, the cells and what a deletion says and does.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Page, type Revoked, type Session } from './api.js';
import { type Confirmation, useConfirmation } from './confirm.js';
import { activeCounts, count, failureHandler, Messages } from './pages/common.js';

/** Rows a page of the list asks for. */
const LIST_PAGE = 50;
/** Typing pauses this long (ms) before a search goes to the server. */
const SEARCH_DELAY_MS = 250;

export interface ListProps<T> {
  session: Session;
  onSignedOut: () => void;
  /** The admin API collection, such as '/clients'. */
  path: string;
  /** One row's noun ('client'), for the caption and the search box. */
  noun: string;
  /** What the search looks in, for its placeholder. */
  searchHint: string;
  /** Column headings; the first column is each row's header. */
  columns: string[];
  rowKey: (item: T) => string;
  testId: (item: T) => string;
  /** The row's cells, the first its header. */
  cells: (item: T) => ComponentChildren[];
  /** The row's name in its Delete button's label. */
  label: (item: T) => string;
  /** The confirmation a deletion asks for (its run deletes). */
  confirmDelete: (item: T) => Promise<Confirmation>;
  /** Above the search box (a create form), given what to call when it made a row: a notice and what to search for. */
  header?: (created: (notice: string, search: string) => void) => ComponentChildren;
}

/**
 * The confirmation before deleting the `noun` called `name` at `path`: `says` tells what it revokes,
 * given its active tokens and grants (activeCounts of `filter`), in words; confirmed, the DELETE.
 */
export async function deletion(session: Session, d: { noun: string; name: string; path: string; filter: string; says: (tokens: string, grants: string) => string }): Promise<Confirmation> {
  const n = await activeCounts(session, d.filter);
  return {
    title: `Delete ${d.noun} ${d.name}?`,
    message: d.says(count(n.tokens, 'active token', n.more), count(n.grants, 'active grant', n.more)),
    action: `Delete ${d.noun}`,
    run: async () => {
      const r = await api<Revoked>(session, 'DELETE', d.path);
      return `Deleted ${d.noun} ${d.name}: revoked ${count(r.revoked_tokens, 'token')} and ${count(r.revoked_grants, 'grant')}.`;
    },
  };
}

interface Loaded<T> {
  items: T[];
  cursor: string | null;
  q: string;
}

export function List<T>(props: ListProps<T>) {
  const { session, onSignedOut, path, noun } = props;
  const [search, setSearch] = useState('');
  const [list, setList] = useState<Loaded<T> | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const { ask, dialog } = useConfirmation((result) => done(result));
  // Answers to an older search (or page) that arrive after a newer one was asked for are dropped.
  const latest = useRef(0);

  async function load(q: string, after: Loaded<T> | undefined) {
    const asked = ++latest.current;
    setBusy(true);
    const query = new URLSearchParams({ limit: String(LIST_PAGE) });
    if (q !== '') query.set('q', q);
    if (after?.cursor) query.set('cursor', after.cursor);
    try {
      const page = await api<Page<T>>(session, 'GET', `${path}?${query}`);
      if (asked !== latest.current) return;
      setList({ items: [...(after?.items ?? []), ...page.items], cursor: page.next_cursor, q });
      setError(undefined);
    } catch (err) {
      failureHandler(onSignedOut, (message) => {
        if (asked === latest.current) setError(message);
      })(err);
    } finally {
      if (asked === latest.current) setBusy(false);
    }
  }

  useEffect(() => {
    const q = search.trim();
    // The first load, and a cleared search, go at once; typing waits for a pause.
    const timer = setTimeout(() => load(q, undefined), list === undefined || q === '' ? 0 : SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [session, search]);

  async function askDelete(item: T) {
    try {
      ask(await props.confirmDelete(item));
    } catch (err) {
      failureHandler(onSignedOut, setError)(err);
    }
  }

  const done = (message: string) => {
    setNotice(message);
    load(search.trim(), undefined);
  };
  const searchId = `${noun}-search`;
  return (
    <>
      <Messages error={error} notice={notice} />
      {!session.read_only &&
        props.header?.((message, made) => {
          // The new row is found by searching for it: it may be past the first page.
          if (made === search) return done(message);
          setNotice(message);
          setSearch(made);
        })}
      <label for={searchId}>Search {noun}s</label>
      <input id={searchId} type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder={props.searchHint} />
      {!list ? (
        <p>Loading…</p>
      ) : (
        <>
          <table aria-busy={busy}>
            <caption>
              {count(list.items.length, noun)}
              {list.q === '' ? '' : ` matching “${list.q}”`}
              {list.cursor ? ' so far' : ''}
            </caption>
            <thead>
              <tr>
                {props.columns.map((c) => (
                  <th scope="col" key={c}>
                    {c}
                  </th>
                ))}
                {!session.read_only && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {list.items.map((item) => {
                const [first, ...rest] = props.cells(item);
                return (
                  <tr key={props.rowKey(item)} data-testid={props.testId(item)}>
                    <th scope="row">{first}</th>
                    {rest.map((cell, i) => (
                      <td key={props.columns[i + 1]}>{cell}</td>
                    ))}
                    {!session.read_only && (
                      <td>
                        <button type="button" class="danger" onClick={() => askDelete(item)} aria-label={`Delete ${noun} ${props.label(item)}`}>
                          Delete
                        </button>
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
          {list.cursor && (
            <button type="button" class="secondary" disabled={busy} onClick={() => load(list.q, list)}>
              Load more
            </button>
          )}
        </>
      )}
      {dialog}
    </>
  );
}

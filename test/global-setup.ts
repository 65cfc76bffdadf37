/**
 * vitest globalSetup: the suites need PostgreSQL (TESSERA_TEST_PG, see DEVELOPERS.md). Without it
 * the run fails at once with one line naming what is missing and how to start it, instead of
 * every PostgreSQL test failing on its own, or being skipped without a word.
 */
import { postgresMissing } from '@tessera/test-utils';

export default async function setup(): Promise<void> {
  const missing = await postgresMissing();
  if (missing === undefined) return;
  const err = new Error(missing);
  // The line is the whole message: a stack into this file would only bury it.
  err.stack = `Error: ${missing}`;
  throw err;
}

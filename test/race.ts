/** Races requests in flight against a change made by another process (the CLI on the same file). */
import { sleep } from './flows.js';

/**
 * Runs `attempt` on `workers` loops, back to back, until `change` has returned and `settle` ms
 * more have passed (so requests checked before the change finish, and some start after it).
 * The change starts once every loop has requests flowing. An attempt's value (undefined: none)
 * is collected; null stops its loop early (e.g. out of fresh clients).
 */
export async function raceAgainst<T>(
  attempt: () => Promise<T | undefined | null>,
  change: () => Promise<void>,
  { workers = 4, settle = 300 }: { workers?: number; settle?: number } = {},
): Promise<T[]> {
  const got: T[] = [];
  let stop = false;
  let finished = 0;
  const loop = async () => {
    while (!stop) {
      const value = await attempt();
      finished++;
      if (value === null) return;
      if (value !== undefined) got.push(value);
    }
  };
  const loops = Array.from({ length: workers }, loop);
  while (finished < workers) await sleep(5);
  await change();
  await sleep(settle);
  stop = true;
  await Promise.all(loops);
  return got;
}

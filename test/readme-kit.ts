/** The README's shell examples, by section, as the README tests run them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..');

/** The ```sh blocks between `<!-- NAME:start -->` and `<!-- NAME:end -->`, joined into one script. */
export function readmeSection(name: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = new RegExp(`<!-- ${name}:start -->([\\s\\S]*?)<!-- ${name}:end -->`).exec(readme)?.[1];
  if (!section) throw new Error(`README has no ${name} section`);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

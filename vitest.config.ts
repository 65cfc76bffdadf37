import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    // PostgreSQL must answer before any test runs (one clear line if not): DEVELOPERS.md.
    globalSetup: [join(import.meta.dirname, 'test', 'global-setup.ts')],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});

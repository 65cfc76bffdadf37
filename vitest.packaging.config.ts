import { defineConfig } from 'vitest/config';

/** `npm run test:packaging`: the packed tarballs, installed in fresh projects outside the repository. */
export default defineConfig({
  test: {
    include: ['test/packaging.e2e.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});

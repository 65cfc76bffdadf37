import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

/**
 * The console is built into @tessera/server's package (packages/server/console), which serves it
 * at /console on the admin listener (packages/server/src/admin/console.ts). No inline script or
 * style anywhere: the server's Content-Security-Policy allows only these files.
 */
export default defineConfig({
  base: '/console/',
  plugins: [preact()],
  build: {
    outDir: '../server/console',
    emptyOutDir: true,
    // The polyfill is only for browsers without modulepreload; every supported one has it.
    modulePreload: { polyfill: false },
    // Everything as files: a data: URL for a script or font would fall outside the CSP.
    assetsInlineLimit: 0,
  },
});

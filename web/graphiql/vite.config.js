import { defineConfig } from 'vite';

// The bundle is embedded into the Go binary (package web, //go:embed all:dist)
// and served under several prefixes (/playground/, /admin/playground/), so
// every URL in the output must be relative: base './'.
export default defineConfig({
  base: './',
  build: {
    outDir: '../dist/graphiql',
    emptyOutDir: true,
    // Monaco and GraphiQL are big by nature; the warning is noise here.
    chunkSizeWarningLimit: 8192,
    // Source maps would double the binary size for little benefit.
    sourcemap: false,
    rolldownOptions: {
      // React libraries ship "use client"/"use no memo" directives meant for
      // server components; they are meaningless in this client-only bundle
      // and would bury real warnings under ~100 screens of noise.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});

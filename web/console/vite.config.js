import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The bundle is embedded into the Go binary (package web, //go:embed all:dist)
// and served at /admin/ only. The console routes client-side (/admin/audit,
// /admin/activities/<id>, ...) and the Go handler answers those paths with
// index.html, so asset URLs must be absolute under /admin/ rather than
// relative: a relative ./assets/x.js would break on any deeper route.
export default defineConfig({
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    // Source maps would grow the binary for little benefit.
    sourcemap: false,
  },
});

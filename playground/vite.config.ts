import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The router serves dist/index.html on `GET /graphql` (Accept: text/html) and dist/assets/*
// under /playground/assets/*, so every asset URL is absolute under /playground/.
export default defineConfig({
  base: '/playground/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Monaco is big by nature; the warning says nothing useful here.
    chunkSizeWarningLimit: 8000,
  },
  worker: { format: 'es' },
});

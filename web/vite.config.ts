import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/** Emits the persisted-document manifest (sha256 -> document) that codegen wrote. */
function persistedDocuments(): Plugin {
  return {
    name: 'persisted-documents',
    apply: 'build',
    generateBundle() {
      const manifest = readFileSync(new URL('./src/gql/persisted-documents.json', import.meta.url), 'utf8');
      this.emitFile({ type: 'asset', fileName: 'persisted-documents.json', source: manifest });
    },
  };
}

// Served by the router at `/` with assets under `/assets/`; routes are in the hash, so
// `/` is the only HTML path.
export default defineConfig({
  base: '/',
  plugins: [react(), persistedDocuments()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
});

// Builds the console into web/dist (`npm run build` runs `vite build web`). During development
// (`npx vite web`) API calls are proxied to a running `vigil serve` (VIGIL_URL, default localhost:8080).
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The config is type-checked with the browser's libs (web/tsconfig.json), so reach Node's env without its types.
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

export default defineConfig({
  plugins: [preact()],
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 300 },
  server: {
    proxy: { '/api': { target: env.VIGIL_URL ?? 'http://127.0.0.1:8080', changeOrigin: true } },
  },
});

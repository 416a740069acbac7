/// <reference types="vitest/config" />
import { sveltekit, type Config as KitConfig } from '@sveltejs/kit/vite';
import adapter from '@sveltejs/adapter-static';
import { defineConfig } from 'vite';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { offlineVerifier } from './src/verifier/vite-plugin.ts';
import { connectOrigins } from './scripts/connect-origins.js';
import { compilerOptions } from './svelte.options.js';

/**
 * SvelteKit's root component renders its route announcer with a fixed style attribute. A CSP without
 * 'unsafe-inline' blocks it unless the policy allows that exact value: 'unsafe-hashes' plus its hash. Only
 * this one attribute value is allowed (not <style> elements, not any other attribute). The hash is computed
 * from the installed SvelteKit so an upgrade cannot silently break it.
 */
function kitAnnouncerStyleHashes(): `sha256-${string}`[] {
  try {
    const require = createRequire(import.meta.url);
    const kitDir = require.resolve('@sveltejs/kit/package.json').replace(/package\.json$/, '');
    const root = readFileSync(`${kitDir}src/runtime/components/root.svelte`, 'utf8');
    return [...root.matchAll(/\sstyle="([^"{}]*)"/g)].map(
      (m) => `sha256-${createHash('sha256').update(m[1]).digest('base64')}` as const
    );
  } catch {
    return []; // the e2e test fails on the CSP console error, so this cannot go unnoticed
  }
}
const announcerHashes = kitAnnouncerStyleHashes();

type CspDirectives = NonNullable<NonNullable<KitConfig['csp']>['directives']>;

/**
 * The Content-Security-Policy of the app. SvelteKit writes it into the prerendered shell as a
 * <meta http-equiv> tag with the hashes of its own inline bootstrap script; scripts/serve.js reads that tag
 * back and sends the same policy as a header (plus frame-ancestors, which only works as a header).
 *
 * 'wasm-unsafe-eval' lets Automerge and hash-wasm compile WebAssembly; nothing allows eval() or inline
 * scripts other than the hashed bootstrap. Workers are same-origin module files ('self').
 */
const cspDirectives: CspDirectives = {
  'default-src': ['self'],
  'script-src': ['self', 'wasm-unsafe-eval'],
  'worker-src': ['self'],
  'style-src': ['self', ...(announcerHashes.length ? (['unsafe-hashes', ...announcerHashes] as const) : [])],
  'img-src': ['self', 'data:', 'blob:'],
  'font-src': ['self'],
  // blob: and data: let the 3D preview's GLTFLoader read the user's local model files (blob: URLs made in the
  // page) and embedded data: buffers; nothing remote.
  // ws: the team sync relay (npm run relay: 127.0.0.1 by default); PL_RELAY_ORIGINS adds others (space-separated;
  // each ws(s) relay's http(s) origin too, for its time-stamp forwarder).
  // http(s): Git remotes of the journal (push/pull from Settings): local ones (a host or CORS proxy on this
  // machine) by default; PL_GIT_ORIGINS adds others (space-separated, e.g. https://git.example.com).
  'connect-src': [
    'self',
    'blob:',
    'data:',
    'ws://127.0.0.1:*',
    'ws://localhost:*',
    'http://127.0.0.1:*',
    'http://localhost:*',
    ...(connectOrigins() as 'self'[])
  ],
  'object-src': ['none'],
  'base-uri': ['none'],
  'form-action': ['self'],
  'manifest-src': ['self']
};

/** Where `vite build` writes the app (PL_BUILD_DIR; scripts/serve.js reads the same variable), and SvelteKit's
 * work dir (PL_KIT_DIR), so concurrent builds into different places do not wipe each other. */
const buildDir = process.env.PL_BUILD_DIR || 'build';

export default defineConfig({
  plugins: [
    sveltekit({
      // The Svelte compiler options (svelte.options.js, shared with ESLint).
      compilerOptions,
      // Static build: the root layout prerenders an empty shell (ssr = false); every other URL falls back
      // to 200.html, which boots the same client-side router.
      adapter: adapter({ pages: buildDir, assets: buildDir, fallback: '200.html', strict: true }),
      csp: {
        mode: 'hash',
        directives: cspDirectives
      },
      // The app has no server: version polling would only fetch a static file every hour for nothing.
      version: { pollInterval: 0 },
      ...(process.env.PL_KIT_DIR ? { outDir: process.env.PL_KIT_DIR } : {})
    }),
    // The offline verifier: one self-contained HTML file, written beside the app as verify-offline.html
    // (src/verifier/vite-plugin.ts).
    offlineVerifier({ outDir: buildDir })
  ],
  worker: { format: 'es' },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    setupFiles: ['tests/unit/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
});

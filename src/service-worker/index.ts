/**
 * The service worker: the app loads and works fully offline after the first visit.
 *
 * SvelteKit 3 builds this file as an ES module service worker and registers it. `$service-worker` is gone:
 * the build's file lists come from `$app/manifest` (immutable: every file Vite emitted, including the ledger
 * worker, three.js and the Automerge and hash-wasm WebAssembly; assets: static/; prerendered: the shell),
 * the cache name from `$app/env`'s version.
 *
 * - install: precache all of it, plus 200.html (the SPA fallback every other URL is served with);
 * - activate: drop the caches of older builds;
 * - fetch: same-origin GETs only. Build files: cache first (their names carry a content hash). Page
 *   navigations: network first (a new deploy is picked up when online), the cached shell when offline.
 *   Nothing else is intercepted: the ledger's data lives in IndexedDB, not in HTTP responses.
 */
import { self } from '$app/service-worker';
import { assets, immutable, prerendered } from '$app/manifest';
import { version } from '$app/env';

const CACHE = `provenance-ledger-${version}`;
const SHELL = '/200.html';
const base = new URL(self.registration.scope).pathname.replace(/\/$/, '');
const url = (p: string) => `${base}/${p.replace(/^\//, '')}`;

const PRECACHE = [
  ...new Set([
    ...immutable.map((f) => url(f.path)),
    ...assets.map((f) => url(f.path)),
    ...prerendered.map((f) => url(f.path)),
    url(SHELL),
    url('/')
  ])
];
const KNOWN = new Set(PRECACHE);

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(PRECACHE);
      await self.skipWaiting();
    })()
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })()
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const u = new URL(req.url);
  if (u.origin !== self.location.origin) return;

  if (req.mode === 'navigate') {
    event.respondWith(
      (async () => {
        try {
          const res = await fetch(req);
          if (res.ok) return res;
          throw new Error(`HTTP ${res.status}`);
        } catch {
          const cache = await caches.open(CACHE);
          return (await cache.match(u.pathname)) ?? (await cache.match(url(SHELL))) ?? Response.error();
        }
      })()
    );
    return;
  }

  if (KNOWN.has(u.pathname)) {
    event.respondWith(
      (async () => {
        const cache = await caches.open(CACHE);
        const hit = await cache.match(u.pathname);
        return hit ?? fetch(req);
      })()
    );
  }
});

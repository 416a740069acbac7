// The app runs entirely in the browser (IndexedDB, WebCrypto, a Web Worker): no server rendering. The root
// page is prerendered as an empty shell so it gets a CSP <meta> tag with hashes; other URLs use 200.html.
export const ssr = false;
export const prerender = true;

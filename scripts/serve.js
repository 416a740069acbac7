#!/usr/bin/env node
/**
 * A tiny static server for the built app (build/), with no dependencies: `npm start` runs it after
 * `vite build`. Listens on 127.0.0.1 only; PORT picks the port (default 4173, the next free one if taken).
 *
 * - correct MIME types, including application/wasm (WebAssembly.instantiateStreaming needs it);
 * - SPA fallback: unknown paths without a file extension get 200.html (or index.html);
 * - no directory traversal: the decoded path is resolved and must stay inside build/, dot-files refused;
 * - security headers: the page's CSP (read from the <meta http-equiv> SvelteKit wrote, so its script hashes
 *   match) also as a header with frame-ancestors 'none', nosniff, no referrer, no framing;
 * - /verify-offline.html, the offline verifier the build writes beside the app (src/verifier/), is served like the
 *   other pages: its own policy (no connection at all, its inline script and style by hash) becomes its header.
 *
 * Options: --dir <path> (default $PL_BUILD_DIR or build), --port <n> (0: any free port), --strict-port (fail instead of
 * trying the next port).
 */
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { connectOrigins } from './connect-origins.js';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.glb': 'model/gltf-binary',
  '.gltf': 'model/gltf+json'
};

/** The policy for everything that is not an HTML page (workers get theirs from their own response). */
const BASE_CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; " +
  "img-src 'self' data: blob:; font-src 'self'; " +
  // The ledger worker (served with this policy) connects to the team sync relay and to the Git journal's remotes
  // (vite.config.ts has the same list).
  `connect-src 'self' ws://127.0.0.1:* ws://localhost:* http://127.0.0.1:* http://localhost:*${connectOrigins()
    .map((o) => ` ${o}`)
    .join('')}; ` +
  "object-src 'none'; base-uri 'none'; " +
  "form-action 'self'; frame-ancestors 'none'";

const COMMON_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()'
};

const META_CSP = /<meta\s+http-equiv="content-security-policy"\s+content="([^"]*)"/i;

/** The CSP of one HTML page: its meta policy (unescaped) plus frame-ancestors, which only a header can carry. */
export function cspForHtml(html) {
  const m = META_CSP.exec(html);
  if (!m) return BASE_CSP;
  const policy = m[1]
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim()
    .replace(/;$/, '');
  return /frame-ancestors/.test(policy) ? policy : `${policy}; frame-ancestors 'none'`;
}

/** The command line: --dir, --port, --strict-port; an unknown option or a missing value is an error. */
function options(args) {
  const { values } = parseArgs({
    args,
    options: { dir: { type: 'string' }, port: { type: 'string' }, 'strict-port': { type: 'boolean', default: false } }
  });
  return {
    dir: values.dir ?? (process.env.PL_BUILD_DIR || 'build'),
    port: values.port,
    strictPort: values['strict-port']
  };
}

/**
 * Maps a request path to a file inside root, or null when it must not be served. Works on the decoded path,
 * so %2e%2e and %2f tricks are caught by the same check.
 */
export function resolveInside(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter(Boolean);
  if (segments.some((s) => s === '..' || s.startsWith('.'))) return null;
  const file = path.resolve(root, ...segments);
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  return file;
}

export async function createStaticServer({ dir = process.env.PL_BUILD_DIR || 'build' } = {}) {
  const root = await realpath(path.resolve(dir));
  const fallbackName = (await isFile(path.join(root, '200.html'))) ? '200.html' : 'index.html';
  const htmlCsp = new Map(); // file -> CSP header, computed once per file

  async function isFile(p) {
    try {
      return (await stat(p)).isFile();
    } catch {
      return false;
    }
  }

  async function send(req, res, file, status = 200) {
    // Symlinks out of the root are refused as well.
    const real = await realpath(file).catch(() => null);
    if (!real || (real !== root && !real.startsWith(root + path.sep))) return notFound(res);
    const info = await stat(real);
    const ext = path.extname(real).toLowerCase();
    const type = MIME[ext] ?? 'application/octet-stream';
    const headers = { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': String(info.size) };
    if (ext === '.html') {
      let csp = htmlCsp.get(real);
      if (!csp) htmlCsp.set(real, (csp = cspForHtml(await readFile(real, 'utf8'))));
      headers['Content-Security-Policy'] = csp;
      headers['Cache-Control'] = 'no-cache';
    } else {
      headers['Content-Security-Policy'] = BASE_CSP;
      const rel = path.relative(root, real).split(path.sep).join('/');
      headers['Cache-Control'] = rel.startsWith('_app/immutable/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    }
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return res.end();
    createReadStream(real)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  function notFound(res) {
    res.writeHead(404, {
      ...COMMON_HEADERS,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Security-Policy': BASE_CSP
    });
    res.end('Not found\n');
  }

  async function handle(req, res) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...COMMON_HEADERS, Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      return res.end('Method not allowed\n');
    }
    const urlPath = (req.url ?? '/').split('?')[0].split('#')[0];
    const file = resolveInside(root, urlPath);
    if (file === null) return notFound(res);
    if (await isFile(file)) return send(req, res, file);
    for (const candidate of [path.join(file, 'index.html'), `${file}.html`]) {
      if (await isFile(candidate)) return send(req, res, candidate);
    }
    // A missing asset is a 404; a missing page is the SPA's business.
    if (path.extname(file) !== '' || urlPath.startsWith('/_app/')) return notFound(res);
    return send(req, res, path.join(root, fallbackName));
  }

  return createServer((req, res) => {
    handle(req, res).catch((e) => {
      console.error(e);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Internal error\n');
    });
  });
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    const onError = (e) => {
      server.off('listening', onListening);
      reject(e);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address().port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, '127.0.0.1');
  });
}

async function main() {
  const opts = options(process.argv.slice(2));
  const requested = Number(opts.port ?? process.env.PORT ?? 4173);
  if (!Number.isInteger(requested) || requested < 0 || requested > 65535)
    throw new Error(`invalid port ${opts.port ?? process.env.PORT}`);
  const server = await createStaticServer({ dir: opts.dir });
  let port = requested;
  for (let attempt = 0; ; attempt++) {
    try {
      port = await listen(server, port);
      break;
    } catch (e) {
      if (e.code !== 'EADDRINUSE' || opts.strictPort || requested === 0 || attempt >= 20) throw e;
      port += 1;
    }
  }
  console.log(`Provenance Ledger is running at http://127.0.0.1:${port}/`);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      server.close(() => process.exit(0));
      server.closeAllConnections();
    });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`serve: ${e.message}`);
    process.exit(1);
  });
}

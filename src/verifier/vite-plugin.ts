/**
 * The offline verifier: one self-contained HTML file, written by the production build (`vite build`, what
 * `npm start` runs) beside the app as verify-offline.html, and served by `vite dev` at the same path.
 *
 * main.ts (with the core's bundle verification, Svelte and hash-wasm, whose WebAssembly is already inside its
 * JavaScript) is built with Vite's build API as one IIFE script and one stylesheet, with nothing written to disk,
 * then both are put inline into template.html under a Content-Security-Policy that allows exactly that script and
 * that stylesheet (by their SHA-256) and WebAssembly compilation, and nothing else: no connection, no image, no
 * font, no frame, no form, no worker. Nothing is fetched when the page is opened, from a file or a server.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { compilerOptions } from '../../svelte.options.js';

export const OFFLINE_VERIFIER_FILE = 'verify-offline.html';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * Makes script text safe inside <script>…</script>: "</script" would end the element early, so it becomes
 * "<\/script" (the same string or pattern in JavaScript). "<!--" followed by "<script" would change how the HTML
 * parser reads the rest; that never occurs in the output, and the build stops if it ever does.
 */
export function inlineScript(code: string): string {
  const out = code.replace(/<\/(script)/gi, '<\\/$1');
  if (/<!--/.test(out) && /<script/i.test(out))
    throw new Error('offline verifier: the script holds "<!--" and "<script", which cannot be inlined safely');
  return out;
}

/** "</style" would end the element early; a stylesheet has no business holding it. */
export function inlineStyle(css: string): string {
  if (/<\/style/i.test(css)) throw new Error('offline verifier: the stylesheet holds "</style"');
  return css;
}

export function offlineCsp(script: string, style: string): string {
  return [
    "default-src 'none'",
    `script-src ${sha256(script)} 'wasm-unsafe-eval'`,
    `style-src ${sha256(style)}`,
    "connect-src 'none'",
    "img-src 'none'",
    "font-src 'none'",
    "worker-src 'none'",
    "frame-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'"
  ].join('; ');
}

/** Builds the page and returns its HTML (nothing is written). */
export async function buildOfflineVerifier(root: string): Promise<{ html: string; script: number; style: number }> {
  const here = path.join(root, 'src', 'verifier');
  const result = await build({
    configFile: false,
    root,
    mode: 'production',
    logLevel: 'warn',
    publicDir: false,
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
    plugins: [svelte({ configFile: false, emitCss: true, compilerOptions })],
    build: {
      write: false,
      emptyOutDir: false,
      copyPublicDir: false,
      target: 'es2022',
      minify: true,
      sourcemap: false,
      cssCodeSplit: false,
      modulePreload: false,
      reportCompressedSize: false,
      // Any asset a module imports becomes a data: URL inside the script (nothing is left to fetch).
      assetsInlineLimit: () => true,
      lib: {
        entry: path.join(here, 'main.ts'),
        formats: ['iife'],
        name: 'ProvenanceLedgerVerifier',
        fileName: () => 'verifier.js',
        cssFileName: 'verifier'
      }
    }
  });
  const outputs = (Array.isArray(result) ? result : [result]).flatMap((r) => ('output' in r ? r.output : []));
  const chunks = outputs.filter((o) => o.type === 'chunk');
  const assets = outputs.filter((o) => o.type === 'asset');
  if (chunks.length !== 1)
    throw new Error(`offline verifier: expected one script, got ${chunks.map((c) => c.fileName).join(', ') || 'none'}`);
  const others = assets.filter((a) => !a.fileName.endsWith('.css'));
  if (others.length)
    throw new Error(
      `offline verifier: files that would have to be fetched: ${others.map((a) => a.fileName).join(', ')}`
    );
  const code = chunks[0].type === 'chunk' ? chunks[0].code : '';
  const css = assets
    .filter((a) => a.fileName.endsWith('.css'))
    .map((a) =>
      a.type === 'asset' ? (typeof a.source === 'string' ? a.source : new TextDecoder().decode(a.source)) : ''
    )
    .join('\n');

  const script = inlineScript(code.trim());
  const style = inlineStyle(css.trim());
  const template = await readFile(path.join(here, 'template.html'), 'utf8');
  const fill: Record<string, string> = {
    '%verifier.csp%': offlineCsp(script, style),
    '%verifier.style%': style,
    '%verifier.script%': script
  };
  // One pass with a function, so "$&" and the like in the script are not read as replacement patterns.
  const html = template.replace(/%verifier\.(csp|style|script)%/g, (m) => fill[m]);
  return { html, script: script.length, style: style.length };
}

/**
 * The Vite plugin: after the app's build (and its adapter, which empties the output folder first) writes
 * `<outDir>/verify-offline.html`; in `vite dev`, serves a fresh build of it at /verify-offline.html.
 */
export function offlineVerifier(opts: { outDir: string }): Plugin {
  let root = process.cwd();
  return {
    name: 'provenance-ledger:offline-verifier',
    configResolved(config) {
      root = config.root;
    },
    buildApp: {
      // After SvelteKit's own buildApp step (its adapter writes the app, having emptied the folder).
      order: 'post',
      async handler() {
        const { html, script, style } = await buildOfflineVerifier(root);
        const dir = path.resolve(root, opts.outDir);
        await mkdir(dir, { recursive: true });
        const file = path.join(dir, OFFLINE_VERIFIER_FILE);
        await writeFile(file, html);
        const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
        console.log(
          `offline verifier: ${path.relative(root, file)} ${kb(Buffer.byteLength(html))} (script ${kb(script)}, style ${kb(style)})`
        );
      }
    },
    configureServer(server) {
      if (process.env.VITEST) return;
      server.middlewares.use(`/${OFFLINE_VERIFIER_FILE}`, (_req, res, next) => {
        buildOfflineVerifier(root)
          .then(({ html }) => {
            res.setHeader('Content-Type', 'text/html; charset=utf-8');
            res.setHeader('Cache-Control', 'no-cache');
            res.end(html);
          })
          .catch(next);
      });
    }
  };
}

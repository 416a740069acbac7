/**
 * The CLI's prebuilt JavaScript: src/cli/main.ts and every module it reaches (commands load lazily: one chunk per
 * dynamic import), bundled by rolldown (the bundler vite builds with) into
 * node_modules/.cache/provenance-ledger/cli/<build>/, so that a command does not strip the types of ~150 .ts
 * files at every start (Node's type stripping loads its own wasm compiler: ~150 ms before anything runs).
 * Packages stay imports of node_modules, except commander, hash-wasm and pako (see `external` below).
 *
 * bin/provenance-ledger.js runs the build when it finds none, or finds that a source file it was made from has
 * changed (size or modification time, in its current file), then uses it; while another process is building, or
 * when the build fails, it runs the TypeScript sources as they are. Nothing else depends on it: deleting the
 * cache folder is always safe. `node scripts/build-cli.js` builds it by hand.
 *
 * Several checkouts may share one node_modules (a symbolic link, git worktrees): each has a folder of its own,
 * cli/<key of the checkout's path>/, with its builds, current.json and build lock, so that they neither replace
 * nor remove each other's builds.
 * current.json is written last, atomically (temp file + rename): a build cut short is never used. Older builds
 * of the checkout are removed once they are an hour old or beyond the newest 8 (a process started from one may
 * still load its lazy chunks meanwhile). Each build keeps Node's compile cache of its modules in its own .v8/ folder.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHES = path.join(ROOT, 'node_modules', '.cache', 'provenance-ledger', 'cli');
const KEEP_MS = 60 * 60 * 1000;
const BUNDLED = /^(commander|hash-wasm|pako)(\/|$)/;
const KEEP_BUILDS = 8;

/** The key of the checkout at `root` in the cache: FNV-1a of its path, as bin/provenance-ledger.js computes it. */
export function checkoutKey(root) {
  let h = 0x811c9dc5;
  for (let i = 0; i < root.length; i++) h = Math.imul(h ^ root.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** This checkout's folder in the cache. */
export const CACHE = path.join(CACHES, checkoutKey(ROOT));

/**
 * commander loads node:child_process (and through it net, dgram, streams...) for subcommands that are separate
 * executables, which this CLI has none of: it gets the module on first use instead, so that no command pays
 * for loading it at start.
 */
const CHILD_PROCESS_IMPORT = "import childProcess from 'node:child_process';";
const lazyChildProcess = {
  name: 'lazy-child-process',
  transform(code, id) {
    if (!id.includes(`${path.sep}commander${path.sep}`) || !code.includes(CHILD_PROCESS_IMPORT)) return null;
    const lazy =
      "const childProcess = new Proxy({}, { get: (_, key) => process.getBuiltinModule('node:child_process')[key] });";
    return { code: code.replace(CHILD_PROCESS_IMPORT, lazy), map: null };
  }
};

/**
 * Node's modules are taken with process.getBuiltinModule, not `import`: importing one as an ES module makes a
 * facade that reads every export once, and so runs lazy getters that load far more than a command uses
 * (node:fs its streams, node:process stdin, stdout and stderr): milliseconds at every start. The imports that
 * rolldown writes at the top of a chunk become declarations of the same bindings (anything else is left as is).
 */
const BUILTIN_IMPORT = /^import (?:([\w$]+)|\* as ([\w$]+)|([\w$]+, )?\{([\w$, ]+)\}) from "(node:[\w/]+)";$/gm;
const builtinModules = {
  name: 'builtin-modules',
  renderChunk(code) {
    const out = code.replace(BUILTIN_IMPORT, (line, def, ns, defFirst, named, id) => {
      const get = `globalThis.process.getBuiltinModule(${JSON.stringify(id)})`;
      if (def || ns) return `const ${def ?? ns} = ${get};`;
      const fields = named
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => s.replace(/^([\w$]+) as ([\w$]+)$/, '$1: $2'));
      const names = `{ ${fields.join(', ')} }`;
      return defFirst
        ? `const ${defFirst.slice(0, -2)} = ${get}, ${names} = ${defFirst.slice(0, -2)};`
        : `const ${names} = ${get};`;
    });
    return out === code ? null : { code: out, map: null };
  }
};

/** Builds the bundle; resolves with the path of its main.js. */
export async function buildCli() {
  const { rolldown } = await import('rolldown');
  const started = Date.now();
  const name = `build-${Date.now().toString(36)}-${process.pid}`;
  const out = path.join(CACHE, name);
  mkdirSync(CACHE, { recursive: true });
  const bundle = await rolldown({
    input: path.join(ROOT, 'src/cli/main.ts'),
    platform: 'node',
    // Packages and Node's modules are imported at run time, from node_modules; only the project's sources are bundled.
    // A few pure-JavaScript packages are bundled too: commander (every command parses with it), and hash-wasm and
    // pako, whose CommonJS files Node would otherwise scan for their exports at every start (hash-wasm's holds its
    // wasm inline: hundreds of kilobytes); their ES module builds load as part of the bundle.
    external: (id, _importer, resolved) => !resolved && !/^[./#]/.test(id) && !path.isAbsolute(id) && !BUNDLED.test(id),
    logLevel: 'silent',
    plugins: [lazyChildProcess, builtinModules],
    transform: { target: 'esnext' }
  });
  let inputs;
  try {
    const { output } = await bundle.write({
      dir: out,
      format: 'esm',
      entryFileNames: 'main.js',
      chunkFileNames: '[name]-[hash].js',
      // Every module that main.js imports statically in one chunk: each further module a command starts with
      // costs its resolution (a realpath through node_modules), read, compile and link.
      codeSplitting: { groups: [{ name: 'start', tags: ['$initial'] }] }
    });
    const ids = new Set([fileURLToPath(import.meta.url)]);
    for (const o of output)
      if (o.type === 'chunk')
        for (const id of o.moduleIds)
          if (path.isAbsolute(id) && !id.includes(`${path.sep}node_modules${path.sep}`)) ids.add(id);
    inputs = [...ids].sort().map((id) => {
      const st = statSync(id);
      return [path.relative(ROOT, id), st.size, st.mtimeMs];
    });
  } finally {
    await bundle.close();
  }
  // A source saved while the build read it: this build may hold either version, so it is not used.
  if (inputs.some(([, , mtime]) => mtime >= started - 1000)) {
    rmSync(out, { recursive: true, force: true });
    throw new Error('a source file changed during the build');
  }
  const current = path.join(CACHE, 'current.json');
  const tmp = `${current}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ build: name, inputs }));
  renameSync(tmp, current);
  // Older builds go once an hour old, or beyond the newest KEEP_BUILDS (their compile caches with them).
  const older = [];
  for (const d of readdirSync(CACHE)) {
    if (d === name || !d.startsWith('build-')) continue;
    try {
      older.push([d, statSync(path.join(CACHE, d)).mtimeMs]);
    } catch {
      /* another process removed it */
    }
  }
  older.sort((a, b) => b[1] - a[1]);
  older.forEach(([d, mtime], i) => {
    if (i + 1 >= KEEP_BUILDS || Date.now() - mtime > KEEP_MS)
      rmSync(path.join(CACHE, d), { recursive: true, force: true });
  });
  return path.join(out, 'main.js');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const main = await buildCli();
  process.stdout.write(`built ${path.relative(ROOT, main)}\n`);
}

#!/usr/bin/env node
// The provenance-ledger command. Put it on your PATH with `npm link` (or `npm install -g .`) in the project;
// relative paths in arguments are resolved from the directory you call it in.
//
// It runs the CLI's prebuilt JavaScript (scripts/build-cli.js: node_modules/.cache/provenance-ledger/cli/),
// built here when missing or older than a source file; while another process builds it, if the build fails, or
// when module hooks are preloaded, it runs the TypeScript sources directly by Node's type stripping (Node >= 22.18).
// Node's modules through process.getBuiltinModule where there is one: importing node:fs as an ES module would
// also load its streams (the facade reads every export), milliseconds at every start.
const builtin = async (id) => process.getBuiltinModule?.(id) ?? (await import(id));
const { closeSync, openSync, readFileSync, rmSync, statSync } = await builtin('node:fs');
const module = await builtin('node:module');
const path = await builtin('node:path');
const { fileURLToPath, pathToFileURL } = await builtin('node:url');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  // An older `node` first on PATH: the project's own Node 22 (the `node` dependency) runs the command instead.
  const own = path.join(ROOT, 'node_modules', 'node', 'bin', 'node');
  let status = 2;
  if (process.env.PROVENANCE_LEDGER_REEXEC !== own && statSync(own, { throwIfNoEntry: false })?.isFile()) {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(own, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, PROVENANCE_LEDGER_REEXEC: own }
    });
    if (r.signal) process.kill(process.pid, r.signal);
    status = r.status ?? 3;
  } else {
    process.stderr.write(
      `error [USAGE]: provenance-ledger needs Node 22.18 or newer (this is ${process.version}); ` +
        'run npm install in the project (it provides Node 22), or put Node 22 first on your PATH\n'
    );
  }
  process.exit(status);
}
// `provenance-ledger log | head`: a closed pipe ends the output quietly, as for any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

/** The prebuilt CLI when it is current (every source it was made from unchanged); else undefined. */
function prebuilt(cache) {
  try {
    const { build, inputs } = JSON.parse(readFileSync(path.join(cache, 'current.json'), 'utf8'));
    const root = ROOT + path.sep; // joined by hand: path.join for each of ~150 files costs a millisecond or more
    for (const [rel, size, mtime] of inputs) {
      const st = statSync(root + rel, { throwIfNoEntry: false });
      if (!st || st.size !== size || st.mtimeMs !== mtime) return undefined;
    }
    const main = path.join(cache, build, 'main.js');
    return statSync(main, { throwIfNoEntry: false }) ? main : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the CLI unless another process is building it (then undefined: this run uses the sources). */
async function build(cache) {
  const lock = path.join(cache, 'build.lock');
  try {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(cache, { recursive: true });
    const st = statSync(lock, { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs > 120_000) rmSync(lock, { force: true }); // left by a build that died
    closeSync(openSync(lock, 'wx'));
  } catch {
    return undefined;
  }
  try {
    return await (await import('../scripts/build-cli.js')).buildCli();
  } catch {
    return undefined;
  } finally {
    rmSync(lock, { force: true });
  }
}

// This checkout's folder in the cache, which checkouts sharing one node_modules share: FNV-1a of ROOT, as
// scripts/build-cli.js checkoutKey computes it.
let h = 0x811c9dc5;
for (let i = 0; i < ROOT.length; i++) h = Math.imul(h ^ ROOT.charCodeAt(i), 0x01000193) >>> 0;
const cache = path.join(ROOT, 'node_modules', '.cache', 'provenance-ledger', 'cli', h.toString(16).padStart(8, '0'));
// Module hooks preloaded into this process (--import, --require, --loader) hook the source files: they get them.
const hooked = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) =>
  /^(--import|--require|--loader|--experimental-loader|-r)(=|$)/.test(a)
);
const entry =
  process.env.PROVENANCE_LEDGER_PREBUILT === 'off' || hooked ? undefined : (prebuilt(cache) ?? (await build(cache)));
// V8's compiled code of the build's modules, kept between runs in the build's folder (Node's compile cache).
if (entry) module.enableCompileCache?.(path.join(path.dirname(entry), '.v8'));
const { main } = await import(entry ? pathToFileURL(entry).href : '../src/cli/main.ts');
process.exitCode = await main(process.argv);

#!/usr/bin/env node
// The provenance-ledger command. The CLI is TypeScript run directly by Node's type stripping (Node >= 22.6;
// unflagged from 22.18). Under `npx provenance-ledger` or an npm script, `node` is the project's own Node 22
// (the `node` devDependency), because npm puts node_modules/.bin first on PATH.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `error [USAGE]: provenance-ledger needs Node 22.18 or newer (this is ${process.version}); ` +
      'run it as `npx provenance-ledger` in the project, where npm provides Node 22\n'
  );
  process.exit(2);
}
// `provenance-ledger log | head`: a closed pipe ends the output quietly, as for any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);

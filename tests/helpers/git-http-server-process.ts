/**
 * The test Git server (git-http-server.ts) in a process of its own, for tests whose client must not see the
 * server's side of a connection as it happens (a client busy building a pack does not read the close of an
 * idle socket until it sends on it). Run with `node --experimental-strip-types` and the arguments:
 *
 *   <keepAliveTimeout ms> <state file>
 *
 * It creates the bare repository `r.git`, prints `{"port":N,"root":…}` on one line of stdout, and writes the
 * number of open connections to the state file (replacing it) at each connect and close, so a test can wait
 * synchronously for the server to close every connection. Ends on SIGTERM or when stdin closes.
 */
import { writeFileSync, renameSync } from 'node:fs';
import { startGitServer } from './git-http-server.ts';

const [timeout, stateFile] = process.argv.slice(2);
const server = await startGitServer({ keepAliveTimeout: Number(timeout) });
server.createRepo('r.git');
let open = 0;
let closes = 0;
const write = () => {
  writeFileSync(stateFile + '.tmp', JSON.stringify({ open, closes }));
  renameSync(stateFile + '.tmp', stateFile);
};
server.server.on('connection', (socket) => {
  open++;
  write();
  socket.on('close', () => {
    open--;
    closes++;
    write();
  });
});
write();
process.stdout.write(JSON.stringify({ port: server.port, root: server.root }) + '\n');
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();

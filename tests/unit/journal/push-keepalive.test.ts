/**
 * Push through a server that closes idle kept-alive connections after 1 s (Node's and Apache's close them after
 * 5 s), as a push of many events meets it: the pack is built between the ref advertisement and the POST, the
 * pooled connection is closed by the server meanwhile, and the POST goes out on it. The request is sent again on
 * a new connection (node-http.ts) and the push succeeds. Push also says how many commits were new to the remote.
 *
 * The server runs in a process of its own (git-http-server-process.ts): the client's event loop is held, as a
 * pack build holds it, until the server has closed every connection, so the client has not read the close.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { nodeHttp, nodeHttpStats } from '../../../src/lib/adapters/git/node-http.ts';
import { push } from '../../../src/lib/adapters/git/remote.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
let child: ChildProcess;
let tmp: string;
let stateFile: string;
let url: string;
let root: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'push-keepalive-'));
  stateFile = path.join(tmp, 'connections.json');
  child = spawn(
    process.execPath,
    [
      '--experimental-strip-types',
      '--no-warnings',
      path.join(HERE, '../../helpers/git-http-server-process.ts'),
      '1000',
      stateFile
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] }
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the server process exited (${code})`)));
  });
  const info = JSON.parse(line) as { port: number; root: string };
  url = `http://127.0.0.1:${info.port}/r.git`;
  root = info.root;
});
afterAll(async () => {
  child.stdin?.end();
  await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  rmSync(tmp, { recursive: true, force: true });
});

const connections = (): { open: number; closes: number } =>
  existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : { open: -1, closes: 0 };

/** Holds this thread (no event loop turn, as a long pack build) until the server has closed every connection. */
function holdUntilServerClosedAll(limitMs = 15_000): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + limitMs;
  while (connections().open !== 0) {
    if (Date.now() > until) throw new Error('the server did not close its idle connections');
    Atomics.wait(cell, 0, 0, 20);
  }
}

describe('push through a server that closes idle connections after 1 s', () => {
  it('the POST on the connection the server closed is sent again on a new one: the push succeeds; push counts the new commits', async () => {
    const l = await newLedger();
    for (let i = 0; i < 3; i++) await l.ledger.append('generation', generationBody());
    const binding = nodeBinding(path.join(tmp, 'd'));
    let held = 0;
    binding.http = {
      request: (r: { url: string; method?: string }) => {
        // The second push's POST /git-receive-pack comes after the server closed the pooled connection.
        if (armed && r.method === 'POST' && r.url.endsWith('/git-receive-pack')) {
          armed = false;
          holdUntilServerClosedAll();
          held++;
        }
        return nodeHttp.request(r as Parameters<typeof nodeHttp.request>[0]);
      }
    };
    let armed = false;
    const journal = await GitJournal.attach(binding, l.ledger);
    const first = await push(journal, url);
    expect(first.sent).toBe(l.ledger.size);
    expect(first.sent).toBe(4);

    await l.ledger.append('generation', generationBody());
    await journal.settled();
    const retriedBefore = nodeHttpStats.retriedOnClosedSocket;
    armed = true;
    const second = await push(journal, url);
    expect(held).toBe(1);
    // The pooled connection was found closed and the request sent once more on a new one.
    expect(nodeHttpStats.retriedOnClosedSocket).toBe(retriedBefore + 1);
    expect(second.sent).toBe(1);
    const remoteMain = execFileSync('git', ['--git-dir', path.join(root, 'r.git'), 'rev-parse', 'refs/heads/main'], {
      encoding: 'utf8'
    }).trim();
    expect(remoteMain).toBe(second.main);
    execFileSync('git', ['--git-dir', path.join(root, 'r.git'), 'fsck', '--strict']);

    // Up to date: nothing new.
    expect((await push(journal, url)).sent).toBe(0);
  }, 60_000);
});

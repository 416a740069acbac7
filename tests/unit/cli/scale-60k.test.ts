/**
 * A ledger above 60k events through the real CLI and a real `git http-backend`: built with the bench's bulk path
 * (tests/bench/worker.ts append: 256 appends in flight, one Automerge change and one chunk per group), pushed
 * (the journal written from the document first), cloned into a new directory, and the clone verified. At this
 * size a spread of the whole ledger overflows the stack and whole-ledger copies ran the process out of memory
 * (issue 13); the figures (time, peak memory) are the bench's (`npm run bench -- --scale`), not this test's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { cli, ROOT, tempDir } from './helpers.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';

const EVENTS = 60_003; // genesis, a policy snapshot, a checklist and 60,000 generations

let server: GitServer;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  server = await startGitServer();
  tmp = await tempDir('pl-scale-');
});
afterAll(async () => {
  await server.close();
  await tmp.cleanup();
});

/** The bench's bulk path in a process of its own (non-durable: a build, as the bench builds its ledgers). */
function bulkLedger(dir: string, generations: number): Promise<{ size: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [path.join(ROOT, 'tests/bench/worker.ts'), 'append', '--dir', dir, '--n', String(generations), '--window', '256'],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    );
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()!))
        : reject(new Error(`worker.ts append failed (exit ${code}):\n${err.slice(-3000)}`))
    );
  });
}

describe('a ledger of more than 60k events', () => {
  it('is pushed whole, cloned with every event, and the clone verifies', async () => {
    const src = path.join(tmp.dir, 'ledger');
    expect((await bulkLedger(src, EVENTS - 3)).size).toBe(EVENTS);

    server.createRepo('big.git');
    const url = server.url('big.git');
    const pushed = await cli(src, tmp.dir)('push', '--plain', '--json', url);
    expect(pushed.code, pushed.stderr).toBe(0);
    const p = pushed.json();
    expect(p).toMatchObject({ commits: EVENTS, newCommits: EVENTS });
    const remote = path.join(server.root, 'big.git');
    expect(
      Number(execFileSync('git', ['--git-dir', remote, 'rev-list', '--count', 'main'], { encoding: 'utf8' }).trim())
    ).toBe(EVENTS);
    expect(execFileSync('git', ['--git-dir', remote, 'rev-parse', 'main'], { encoding: 'utf8' }).trim()).toBe(p.main);

    const dst = path.join(tmp.dir, 'clone');
    const cloned = await cli(dst, tmp.dir)('clone', '--json', url);
    expect(cloned.code, cloned.stderr).toBe(0);
    expect(cloned.json().events).toBe(EVENTS);
    expect(
      execFileSync('git', ['--git-dir', path.join(dst, 'journal.git'), 'rev-parse', 'main'], {
        encoding: 'utf8'
      }).trim()
    ).toBe(p.main);

    const verified = await cli(dst, tmp.dir)('verify', '--json');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.json()).toMatchObject({ ok: true, valid: EVENTS });
  }, 1_800_000);
});

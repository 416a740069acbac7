/**
 * `push` says how many commits were new to the remote (not the journal's size): the first push of a ledger sends
 * all of them, the next one after one more event sends 1, one with nothing new sends 0; `--json` gives
 * `newCommits` beside `commits` (the journal's size). Against a real `git http-backend`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { cli, tempDir } from './helpers.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';

let server: GitServer;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  server = await startGitServer();
  tmp = await tempDir('pl-push-count-');
});
afterAll(async () => {
  await server.close();
  await tmp.cleanup();
});

describe('push counts the commits new to the remote', () => {
  it('first push: every commit; after one more event: 1; with nothing new: 0', async () => {
    server.createRepo('count.git');
    const url = server.url('count.git');
    const pl = cli(path.join(tmp.dir, 'ledger'), tmp.dir);
    expect((await pl('init', '--name', 'Ada', '--ledger-name', 'Count')).code).toBe(0);
    for (let i = 0; i < 3; i++)
      expect(
        (await pl('record', 'checklist', '--project', `P${i}`, '--classification', 'client', '--classified')).code
      ).toBe(0);

    const first = await pl('push', url, '--json');
    expect(first.code).toBe(0);
    const j1 = first.json();
    expect(j1.newCommits).toBe(j1.commits);
    expect(j1.newCommits).toBeGreaterThanOrEqual(4);
    const remoteCount = () =>
      Number(
        execFileSync('git', ['--git-dir', path.join(server.root, 'count.git'), 'rev-list', '--count', 'main'], {
          encoding: 'utf8'
        }).trim()
      );
    expect(remoteCount()).toBe(j1.commits);

    expect(
      (await pl('record', 'checklist', '--project', 'More', '--classification', 'client', '--classified')).code
    ).toBe(0);
    const second = await pl('push', url);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^pushed 1 new commit to /m);
    expect(remoteCount()).toBe(j1.commits + 1);

    const third = await pl('push', url, '--json');
    expect(third.json()).toMatchObject({ newCommits: 0, commits: j1.commits + 1 });
  }, 120_000);
});

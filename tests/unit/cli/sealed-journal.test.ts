/**
 * The CLI's sealed journal against a real `git http-backend`: `push` seals by default (no project, file,
 * platform, classification or member name in any object of the remote; stock git verifies every commit with
 * `allowed-signers --sealed`; fsck --strict clean); `journal status` says which kind each remote holds; a second
 * device clones with the key backup (`clone --key-backup`) and verifies; without the keys the clone is refused
 * naming the epoch and leaves nothing; `push --plain` writes a readable journal, and a sealed push to it is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cli, run, tempDir } from './helpers.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';

const PASS = { PROVENANCE_LEDGER_PASSPHRASE: 'correct horse battery staple' };
let server: GitServer;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  server = await startGitServer();
  tmp = await tempDir('pl-sealed-');
});
afterAll(async () => {
  await server.close();
  await tmp.cleanup();
});

const SECRETS = [
  'Confidential Robots',
  'client',
  'Tripo',
  'robot.glb',
  'Ada Lovelace',
  'Studio Nebula',
  'checklist',
  'generation'
];
const ok = (r: { code: number | null; stdout: string; stderr: string }) => expect(r.code, r.stdout + r.stderr).toBe(0);

describe('CLI: the sealed journal', () => {
  it('push seals; stock git verifies; clone --key-backup rebuilds a verifying ledger; push --plain is readable', async () => {
    server.createRepo('sealed.git');
    const url = server.url('sealed.git');
    const remote = path.join(server.root, 'sealed.git');
    const dir = path.join(tmp.dir, 'ada');
    const pl = cli(dir, tmp.dir, PASS);
    ok(await pl('init', '--name', 'Ada Lovelace', '--ledger-name', 'Studio Nebula'));
    ok(
      await pl(
        'record',
        'checklist',
        '--project',
        'Confidential Robots',
        '--classification',
        'client',
        '--classified',
        '--platform',
        'Tripo'
      )
    );
    await writeFile(path.join(tmp.dir, 'robot.glb'), 'glb bytes');
    ok(
      await pl(
        'record',
        'generation',
        '--platform',
        'Tripo',
        '--prompt',
        'a brass robot',
        '--output',
        path.join(tmp.dir, 'robot.glb'),
        '--project',
        'Confidential Robots',
        '--classification',
        'client'
      )
    );
    const backup = path.join(tmp.dir, 'ada.key.json');
    const exported = await pl('key', 'export', '--out', backup, '--json');
    ok(exported);
    expect(exported.json().teamKeyEpochs).toEqual([1]);

    const pushed = await pl('push', url, '--json');
    ok(pushed);
    expect(pushed.json()).toMatchObject({ sealed: true, newCommits: 3, commits: 3 });
    const objects = execFileSync('git', ['--git-dir', remote, 'cat-file', '--batch-all-objects', '--batch'], {
      maxBuffer: 1 << 26
    });
    for (const s of SECRETS) expect(objects.includes(Buffer.from(s)), `the remote holds "${s}"`).toBe(false);

    const signers = path.join(tmp.dir, 'sealed-signers');
    const as = await pl('allowed-signers', '--sealed');
    ok(as);
    await writeFile(signers, as.stdout);
    const commits = execFileSync('git', ['--git-dir', remote, 'rev-list', 'main'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(commits).toHaveLength(3);
    for (const c of commits) {
      const r = spawnSync(
        'git',
        [
          '--git-dir',
          remote,
          '-c',
          'gpg.format=ssh',
          '-c',
          `gpg.ssh.allowedSignersFile=${signers}`,
          'verify-commit',
          c
        ],
        { encoding: 'utf8' }
      );
      expect(r.status, r.stderr).toBe(0);
    }
    execFileSync('git', ['--git-dir', remote, 'fsck', '--strict'], { stdio: 'pipe' });

    const status = await pl('journal', 'status');
    ok(status);
    expect(status.stdout).toContain(`remote ${url}: sealed`);

    // Without any key: refused, naming the epoch, and nothing is left.
    const bare = path.join(tmp.dir, 'bare-clone');
    const refused = await run(['clone', url, '--ledger', bare, '--json'], { env: PASS });
    expect(refused.code).not.toBe(0);
    expect(refused.errorJson().error.code).toBe('SEALED_KEY_MISSING');
    expect(refused.errorJson().error.message).toMatch(/team key epoch 1, and this device holds no key for that epoch/);
    expect(refused.errorJson().error.message).toContain('--key-backup FILE');
    expect(spawnSync('test', ['-e', bare]).status).not.toBe(0);

    // A wrong passphrase: refused before anything is written.
    const wrong = await run(['clone', url, '--ledger', bare, '--key-backup', backup, '--json'], {
      env: { PROVENANCE_LEDGER_PASSPHRASE: 'not the passphrase' }
    });
    expect(wrong.errorJson().error.code).toBe('BAD_PASSPHRASE');
    expect(spawnSync('test', ['-e', bare]).status).not.toBe(0);

    // With the key backup: the device key and team keys come back, the ledger is rebuilt and verifies.
    const second = path.join(tmp.dir, 'restored');
    const cloned = await run(['clone', url, '--ledger', second, '--key-backup', backup, '--json'], { env: PASS });
    ok(cloned);
    expect(cloned.json().events).toBe(3);
    // Every event and journal commit verifies; the prompt opening of the generation stays on the first device (the
    // journal never carries it), which verify reports.
    const v = await run(['verify', '--ledger', second], { env: PASS });
    expect(v.stdout).toContain('(3 of 3 events valid)');
    expect(v.stdout.match(/^\s+\[[A-Z_]+\]/gm)).toEqual(['  [STORAGE_MISSING]']);
    // The restored device records and pushes sealed; the first pulls it.
    const pl2 = cli(second, tmp.dir, PASS);
    ok(await pl2('record', 'checklist', '--project', 'Second Device', '--classification', 'client', '--classified'));
    const p2 = await pl2('push', url, '--json');
    ok(p2);
    expect(p2.json()).toMatchObject({ sealed: true, newCommits: 1 });
    const pulled = await pl('pull', url, '--json');
    ok(pulled);
    expect(pulled.json()).toMatchObject({ sealed: true, received: 1 });

    // A readable journal only on purpose.
    server.createRepo('plain.git');
    const plainUrl = server.url('plain.git');
    const plain = await pl('push', plainUrl, '--plain');
    ok(plain);
    expect(plain.stdout).toMatch(/readable journal: the Git host can read every event/);
    const plainLog = execFileSync(
      'git',
      ['--git-dir', path.join(server.root, 'plain.git'), 'log', '--oneline', 'main'],
      { encoding: 'utf8' }
    );
    expect(plainLog).toContain('Confidential Robots');
    const sealOver = await pl('push', plainUrl, '--json');
    expect(sealOver.code).not.toBe(0);
    expect(sealOver.errorJson().error.message).toMatch(/holds a readable \(unsealed\) journal: push --plain/);
    const status2 = await pl('journal', 'status', '--json');
    const kinds = Object.fromEntries(
      status2.json().remotes.map((r: { url: string; sealed: boolean }) => [r.url, r.sealed])
    );
    expect(kinds).toEqual({ [url]: true, [plainUrl]: false });
  }, 240_000);
});

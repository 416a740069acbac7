/**
 * The complete backup carries the team keys, so a device restored from it opens the sealed journal: against a real
 * `git http-backend`, the owner pushes sealed, makes a complete backup (`backup`), and a new directory restored from
 * it (`restore`) holds team key epoch 1, pulls the owner's later sealed commits and pushes its own, which the owner
 * pulls. A restore into a directory that already holds the keys adds none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { cli, tempDir } from './helpers.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';

const PASS = { PROVENANCE_LEDGER_PASSPHRASE: 'correct horse battery staple' };
let server: GitServer;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  server = await startGitServer();
  tmp = await tempDir('pl-sealed-backup-');
});
afterAll(async () => {
  await server.close();
  await tmp.cleanup();
});

const ok = (r: { code: number | null; stdout: string; stderr: string }) => expect(r.code, r.stdout + r.stderr).toBe(0);

describe('CLI: a device restored from a complete backup opens the sealed journal', () => {
  it('backup carries team key epoch 1; restore writes it; the restored device pulls and pushes sealed', async () => {
    server.createRepo('sealed.git');
    const url = server.url('sealed.git');
    const dir = path.join(tmp.dir, 'ada');
    const pl = cli(dir, tmp.dir, PASS);
    ok(await pl('init', '--name', 'Ada Lovelace', '--ledger-name', 'Studio Nebula'));
    ok(
      await pl('record', 'checklist', '--project', 'Confidential Robots', '--classification', 'client', '--classified')
    );
    const pushed = await pl('push', url, '--json');
    ok(pushed);
    expect(pushed.json()).toMatchObject({ sealed: true });

    const file = path.join(tmp.dir, 'ada.backup.json');
    const made = await pl('backup', '--out', file, '--json');
    ok(made);
    expect(made.json().teamKeyEpochs).toEqual([1]);

    // The owner goes on after the backup: one more sealed commit the restored device has to open.
    ok(await pl('record', 'checklist', '--project', 'After The Backup', '--classification', 'client', '--classified'));
    ok(await pl('push', url));

    const second = path.join(tmp.dir, 'restored');
    const pl2 = cli(second, tmp.dir, PASS);
    const restored = await pl2('restore', file, '--json');
    ok(restored);
    expect(restored.json()).toMatchObject({ keyRestored: true, teamKeyEpochs: [1] });
    const pulled = await pl2('pull', url, '--json');
    ok(pulled);
    expect(pulled.json()).toMatchObject({ sealed: true, received: 1 });
    const v = await pl2('verify', '--json');
    ok(v);

    ok(await pl2('record', 'checklist', '--project', 'Second Device', '--classification', 'client', '--classified'));
    const p2 = await pl2('push', url, '--json');
    ok(p2);
    expect(p2.json()).toMatchObject({ sealed: true, newCommits: 1 });
    const back = await pl('pull', url, '--json');
    ok(back);
    expect(back.json()).toMatchObject({ sealed: true, received: 1 });

    // Restored again: the epoch is held already, none added.
    const again = await pl2('restore', file, '--json');
    ok(again);
    expect(again.json().teamKeyEpochs).toEqual([]);
  }, 240_000);
});

/** The proofs commands through the real CLI: checkpoint, witness (and a refused fork), prove, verify-bundle exit codes. */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { run, tempDir } from '../cli/helpers.ts';
import { makeDiskTeam, MODEL } from './fixture.ts';

let root: { dir: string; cleanup: () => Promise<void> };
let team: Awaited<ReturnType<typeof makeDiskTeam>>;
beforeAll(async () => {
  root = await tempDir('pl-proofs-');
  await writeFile(path.join(root.dir, MODEL.name), MODEL.bytes);
  team = await makeDiskTeam(root.dir, createHash('sha256').update(MODEL.bytes).digest('hex'));
});
afterAll(() => root.cleanup());

describe('proofs CLI', () => {
  it('checkpoint, witness, prove, verify-bundle: valid (0), tampered (1), usage (2)', async () => {
    const cp = await run(['checkpoint', '--ledger', team.adaDir, '--json']);
    expect(cp.code).toBe(0);
    expect(cp.json()).toMatchObject({
      size: 7,
      origin: expect.stringMatching(/^provenance-ledger\/[0-9a-f]{16}\/[0-9a-f]{16}$/)
    });
    const w = await run(['witness', '--ledger', team.graceDir, '--log', team.adaDir]);
    expect(w.code).toBe(0);
    expect(w.stdout).toContain("Cosigned Ada's log");
    const bundle = path.join(root.dir, 'b.json');
    const p = await run([
      'prove',
      path.join(root.dir, MODEL.name),
      '--ledger',
      team.adaDir,
      '--reveal-prompt',
      '--out',
      bundle
    ]);
    expect(p.code).toBe(0);
    const v = await run(['verify-bundle', bundle, '--file', path.join(root.dir, MODEL.name)]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(
      /model\.glb \(sha256 [0-9a-f]{64}\) was recorded as output of a generation on Tripo .* by Ada \(key [0-9a-f]{16}\) .*witnessed by Grace at .*the prompt was revealed and matches/
    );
    const bytes = await readFile(bundle);
    bytes[bytes.indexOf('Studio NAS')] ^= 1;
    await writeFile(bundle, bytes);
    const bad = await run(['verify-bundle', bundle, '--json']);
    expect(bad.code).toBe(1);
    expect(bad.json().failures.length).toBeGreaterThan(0);
    expect((await run(['verify-bundle', path.join(root.dir, 'missing.json')])).code).toBe(2);
    expect((await run(['verify-bundle'])).code).toBe(2);
  }, 60_000);

  it('witness refuses a log whose history was rewritten, and says so (exit 1)', async () => {
    // Ada's device rewrites its log: the same events, two of them swapped, plus one more.
    const storage = await FsStorage.open(team.adaDir);
    const ledger = await Ledger.open({ storage, signer: team.ada });
    await ledger.append('generation', {
      platform: { name: 'Tripo' },
      mode: 'text-to-3d',
      inputs: [],
      outputs: [{ name: 'x.glb', format: 'glb', size: 1, sha256: '12'.repeat(32) }],
      settings: { trainingOptOut: true, privacyMode: true },
      project: 'P',
      classification: 'public',
      policySnapshots: []
    });
    await storage.removeRange(['log']);
    const log = await DeviceLog.load(storage);
    const all = ledger.events();
    await log.append([all[1], all[0], ...all.slice(2)]);
    await log.checkpoint(ledger.id, team.ada);
    const w = await run(['witness', '--ledger', team.graceDir, '--log', team.adaDir]);
    expect(w.code, w.stderr).toBe(1);
    expect(w.stdout).toMatch(/REFUSED \[WITNESS_FORK\]/);
  }, 60_000);
});

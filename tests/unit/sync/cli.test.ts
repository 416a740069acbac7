/**
 * Real peers: CLI ledgers in separate processes, through a real relay on 127.0.0.1. Everything the relay
 * forwards is captured and searched for what must never leave a device in the clear.
 */
import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import * as A from '@automerge/automerge';
import { run } from '../cli/helpers.ts';
import { useCliTeam } from './cli-team.ts';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';

const captured: Uint8Array[] = [];
const { dir, pl, startInvite } = useCliTeam('pl-sync-', { onForward: (_room, f) => captured.push(f.slice()) });

async function openDoc(name: string) {
  const ledger = await Ledger.open({ storage: await FsStorage.open(dir(name)) });
  return { ledger, amHeads: A.getHeads(ledger.doc).sort().join(), changes: A.getAllChanges(ledger.doc).length };
}

const SECRETS = {
  prompt: 'a brass robot holding a lantern, NDA-secret-prompt-7731',
  file: 'lantern-robot-final-v7.glb',
  project: 'Project Nightjar Confidential',
  members: ['Ada Lovelace', 'Bob Marley', 'Cleo Patra']
};

describe('CLI sync between real processes through the relay', () => {
  it('invite, join, offline appends on three devices, sync: identical ledgers, nothing in the clear on the wire', async () => {
    expect(
      (await run(['init', '--ledger', dir('a'), '--name', SECRETS.members[0], '--ledger-name', 'Studio'])).code
    ).toBe(0);
    for (const [i, who] of ['b', 'c'].entries()) {
      const inv = await startInvite('a');
      const j = await pl(who, 'join', inv.code, '--name', SECRETS.members[i + 1], '--json');
      expect(j.code, j.stderr).toBe(0);
      expect(j.json().member.name).toBe(SECRETS.members[i + 1]);
      expect(await inv.done).toContain('joined');
    }
    // Offline appends on every device, with confidential details.
    const out = dir(SECRETS.file);
    await writeFile(out, 'glTF binary of the robot');
    for (const who of ['a', 'b', 'c']) {
      const r = await run([
        'record',
        'generation',
        '--ledger',
        dir(who),
        '--platform',
        'Tripo',
        '--prompt',
        SECRETS.prompt,
        '--output',
        out,
        '--project',
        SECRETS.project,
        '--classification',
        'client',
        '--training-opt-out'
      ]);
      expect(r.code, r.stderr).toBe(0);
      const r2 = await run([
        'record',
        'checklist',
        '--ledger',
        dir(who),
        '--project',
        `${SECRETS.project} ${who}`,
        '--classification',
        'client'
      ]);
      expect(r2.code, r2.stderr).toBe(0);
    }
    const sizes = await Promise.all(['a', 'b', 'c'].map(async (w) => (await openDoc(w)).ledger.size));
    expect(sizes).toEqual([5, 4, 5]); // genesis, the adds known at join, two own events

    // Two first, then all three.
    const [sa, sb] = await Promise.all([pl('a', 'sync', '--once', '--json'), pl('b', 'sync', '--once', '--json')]);
    expect(sa.code, sa.stdout + sa.stderr).toBe(0);
    expect(sb.code, sb.stdout + sb.stderr).toBe(0);
    const rs = await Promise.all(['a', 'b', 'c'].map((w) => pl(w, 'sync', '--once', '--json')));
    for (const r of rs) expect(r.code, r.stdout + r.stderr).toBe(0);

    const docs = await Promise.all(['a', 'b', 'c'].map(openDoc));
    for (const d of docs) {
      expect(d.ledger.size).toBe(9); // nothing lost, nothing doubled
      expect(d.ledger.heads()).toEqual(docs[0].ledger.heads());
      expect(d.amHeads).toBe(docs[0].amHeads);
      expect(d.changes).toBe(docs[0].changes);
    }
    for (const w of ['a', 'b', 'c']) expect((await run(['verify', '--ledger', dir(w)])).code).toBe(0);

    // Witnessing ran at each sync: every device's log was cosigned by a teammate (sync's summary says by whom),
    // so a bundle proved now is witnessed, with no witness command.
    const last = (r: { stdout: string }) =>
      JSON.parse(
        r.stdout
          .trim()
          .split(/\n(?=\{)/)
          .at(-1)!
      );
    for (const r of rs) {
      const summary = last(r);
      expect(summary.witnessed.length, r.stdout).toBeGreaterThan(0);
      expect(summary.cosigned.length, r.stdout).toBeGreaterThan(0);
    }
    expect(last(rs[0]).witnessed.map((w: { name: string }) => w.name)).toEqual(
      expect.arrayContaining([expect.stringMatching(/Bob Marley|Cleo Patra/)])
    );
    const bundle = dir('a.bundle.json');
    const proved = await run(['prove', out, '--ledger', dir('a'), '--out', bundle]);
    expect(proved.code, proved.stdout + proved.stderr).toBe(0);
    expect(proved.stdout).toMatch(/witnessed by (Bob Marley|Cleo Patra) at /);
    const checked = await run(['verify-bundle', bundle, '--file', out]);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/^VALID/);
    expect(checked.stdout).toMatch(
      /lantern-robot-final-v7\.glb \(sha256 [0-9a-f]{64}\) was recorded as output of a generation on Tripo .*by Ada Lovelace .*; witnessed by (Bob Marley|Cleo Patra) at /
    );
    expect(checked.stdout).not.toMatch(/not witnessed/);

    // What the relay saw: sealed frames only.
    expect(captured.length).toBeGreaterThan(10);
    const wire = Buffer.concat(captured);
    const hash = (await import('node:crypto')).createHash('sha256').update('glTF binary of the robot').digest();
    const needles = [
      SECRETS.prompt,
      SECRETS.file,
      SECRETS.project,
      ...SECRETS.members,
      'Studio',
      'Tripo',
      hash.toString('hex'),
      hash.toString('base64url'),
      docs[0].ledger.id
    ];
    for (const n of needles) expect(wire.includes(Buffer.from(n)), `"${n}" on the wire`).toBe(false);
    expect(wire.includes(hash)).toBe(false);
  }, 120_000);
});

/**
 * Two processes appending to one ledger directory at once (here two Ledger and GitJournal instances over the same
 * directory, interleaved as two processes would be): both events are stored; the second writer finds the journal's
 * main on a commit whose event its ledger did not hold when it opened, sees that the document in storage holds it
 * now (an append, not a loss) and leaves the refs for the next write. verify then reports the commit not yet in
 * the journal's history as pending (JOURNAL_PENDING, exit 0), not as damage, and the next write catches the
 * journal up: nothing pending, both events in the history. A commit whose event the document lost is refused
 * instead (EVENT_NOT_IN_DOCUMENT: tests/unit/cli/recover.test.ts).
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { identitySigner, loadIdentity } from '../../../src/lib/adapters/node/identity.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { cli, tempDir } from '../cli/helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('pl-concurrent-'));
});
afterAll(async () => cleanup?.());

const checklist = (project: string) => ({
  project,
  classification: 'client',
  policySnapshots: [],
  items: { classified: true, policiesReviewed: false, privacySettingsEnabled: false, inputsSanitized: false }
});

it(
  'two appenders at once: both stored, the journal behind is pending, the next write catches it up',
  { timeout: 120_000 },
  async () => {
    const dir = path.join(root, 'ledger');
    const pl = cli(dir, root);
    expect((await pl('init', '--name', 'Ada', '--ledger-name', 'Two Writers')).code).toBe(0);
    expect(
      (await pl('record', 'checklist', '--project', 'First', '--classification', 'client', '--classified')).code
    ).toBe(0);

    const open = async () => {
      const storage = await FsStorage.open(dir);
      const signer = identitySigner((await loadIdentity(storage))!);
      const ledger = await Ledger.open({ storage, signer });
      const journal = await GitJournal.attach(nodeBinding(dir), ledger);
      return { ledger, journal };
    };
    // Both open before either appends.
    const a = await open();
    const b = await open();
    const ea = await a.ledger.append('checklist', checklist('From A'));
    await a.journal.settled();
    const eb = await b.ledger.append('checklist', checklist('From B'));
    await b.journal.settled();
    expect(b.journal.lastError).toBeUndefined(); // not refused: A's event is in the document in storage
    expect(b.ledger.get(ea.id)).toBeUndefined();
    a.journal.detach();
    b.journal.detach();

    const v = await pl('verify', '--json');
    expect(v.code, v.stdout).toBe(0);
    const report = v.json();
    expect(report.ok).toBe(true);
    expect(report.valid).toBe(4);
    expect(report.problems).toEqual([]);
    expect(report.pending.map((p: { code: string; eventId: string }) => [p.code, p.eventId])).toEqual([
      ['JOURNAL_PENDING', eb.id]
    ]);

    // The next write (any command that writes) catches the journal up when it opens.
    expect(
      (await pl('record', 'checklist', '--project', 'Next', '--classification', 'client', '--classified')).code
    ).toBe(0);
    const after = await pl('verify', '--json');
    expect(after.code, after.stdout).toBe(0);
    expect(after.json().valid).toBe(5);
    expect(after.json().pending).toBeUndefined();
  }
);

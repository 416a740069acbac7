/**
 * The journal's commit-id file (adapters/git/event-map.ts): a process that opens a journal takes the commit ids
 * it wrote before from the file instead of computing every one, and still writes exactly the commits the
 * events determine. A damaged file is ignored; a wrong id in a well-formed file is caught before anything is
 * signed over it; verify never uses the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { crossCheck } from '../../../src/lib/adapters/git/crosscheck.ts';
import { HINTS_DIR } from '../../../src/lib/adapters/git/event-map.ts';
import { commitHints, JournalCommits } from '../../../src/lib/core/journal/signatures.ts';
import { sha256Hex } from '../../../src/lib/core/hash.ts';
import { utf8 } from '../../../src/lib/core/bytes.ts';
import type { Signer } from '../../../src/lib/core/keys.ts';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'journal-hints-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
async function setup(events = 20) {
  const storage = new MemoryStorage();
  const { ledger, signer } = await newLedger(storage);
  const dir = path.join(tmp, `h${++n}`);
  const journal = await GitJournal.attach(nodeBinding(dir), ledger);
  await Promise.all(Array.from({ length: events }, () => ledger.append('generation', generationBody())));
  await journal.settled();
  journal.detach();
  return { storage, signer, dir, gitdir: path.join(dir, 'journal.git'), size: ledger.size };
}

/** A new process: no hints in memory, the ledger opened again from storage. */
async function reopen(storage: MemoryStorage, signer: Signer) {
  commitHints.delete();
  return Ledger.open({ storage, signer });
}

/** Every event's commit id as verify computes it: from the events and signatures alone, no hints. */
function truth(ledger: Ledger): Map<string, string> {
  const j = new JournalCommits(
    { event: (id) => ledger.get(id), signature: (id) => ledger.journalSignature(id) },
    { hints: false }
  );
  return new Map(ledger.events().map((e) => [e.id, j.oid(e.id)!]));
}

const fsck = (gitdir: string) => execFileSync('git', ['--git-dir', gitdir, 'fsck', '--strict'], { stdio: 'pipe' });

describe('commit-id hints', () => {
  it('a new process takes every commit id from the file and appends the commits its events determine', async () => {
    const { storage, signer, dir, gitdir, size } = await setup();
    expect(readdirSync(path.join(dir, HINTS_DIR)).length).toBeGreaterThan(0);
    const ledger = await reopen(storage, signer);
    const journal = await GitJournal.attach(nodeBinding(dir), ledger);
    expect(journal.hintedAtOpen).toBe(size);
    await ledger.append('generation', generationBody());
    await journal.settled();
    const t = truth(ledger);
    for (const ev of ledger.events()) expect(journal.commitOf(ev.id)).toBe(t.get(ev.id));
    expect(await crossCheck(nodeBinding(dir), ledger)).toEqual([]);
    expect((await ledger.verify()).ok).toBe(true);
    fsck(gitdir);
  });

  it('a damaged file is ignored (ids computed again) and replaced', async () => {
    const { storage, signer, dir, size } = await setup(8);
    const hintDir = path.join(dir, HINTS_DIR);
    for (const f of readdirSync(hintDir)) {
      const b = readFileSync(path.join(hintDir, f));
      b[b.length >> 1] ^= 1;
      writeFileSync(path.join(hintDir, f), b);
    }
    const ledger = await reopen(storage, signer);
    const journal = await GitJournal.attach(nodeBinding(dir), ledger);
    expect(journal.hintedAtOpen).toBe(0);
    await ledger.append('generation', generationBody());
    await journal.settled();
    expect(await crossCheck(nodeBinding(dir), ledger)).toEqual([]);
    journal.detach();
    const again = await GitJournal.attach(nodeBinding(dir), await reopen(storage, signer));
    expect(again.hintedAtOpen).toBe(size + 1);
  });

  it('a wrong id in a well-formed file is caught before the next commit is signed over it', async () => {
    const { storage, signer, dir, gitdir } = await setup(6);
    const probe = await reopen(storage, signer);
    const head = probe.heads()[0];
    const hintDir = path.join(dir, HINTS_DIR);
    // Forge a file whose checksum is right but which gives the head event another commit id.
    const file = readdirSync(hintDir).sort().at(-1)!;
    const text = readFileSync(path.join(hintDir, file), 'utf8');
    const body = text
      .slice(0, text.lastIndexOf('sha256 '))
      .replace(new RegExp(`^(${head} \\S+ )([0-9a-f]{40})$`, 'm'), (_m, pre) => `${pre}${'1'.repeat(40)}`);
    expect(body).toContain('1'.repeat(40));
    writeFileSync(path.join(hintDir, file), `${body}sha256 ${await sha256Hex(utf8(body))}\n`);
    const ledger = await reopen(storage, signer);
    const journal = await GitJournal.attach(nodeBinding(dir), ledger);
    const ev = await ledger.append('generation', generationBody());
    await journal.settled();
    const t = truth(ledger);
    expect(ledger.commitOf(ev.id)).toBe(t.get(ev.id));
    expect(journal.commitOf(ev.id)).toBe(t.get(ev.id));
    expect((await ledger.verify()).ok).toBe(true);
    fsck(gitdir);
  });

  it('verify computes every id itself', async () => {
    const { storage, signer } = await setup(4);
    const probe = await reopen(storage, signer);
    const head = probe.heads()[0];
    commitHints.add([{ id: head, sig: probe.journalSignature(head)!, oid: '2'.repeat(40) }]);
    const ledger = await Ledger.open({ storage, signer });
    expect(ledger.commitOf(head)).toBe('2'.repeat(40)); // the (wrong) hint answers commitOf...
    expect((await ledger.verify()).ok).toBe(true); // ...but verify builds every commit itself
    expect(truth(ledger).get(head)).not.toBe('2'.repeat(40));
    // So does the journal cross-check: a journal written from the true ids agrees; the hint is not believed.
    const dir = path.join(tmp, 'verify-hints');
    commitHints.delete();
    const j = await GitJournal.attach(nodeBinding(dir), ledger);
    j.detach();
    commitHints.add([{ id: head, sig: probe.journalSignature(head)!, oid: '2'.repeat(40) }]);
    expect(await crossCheck(nodeBinding(dir), ledger)).toEqual([]);
    commitHints.delete();
  });
});

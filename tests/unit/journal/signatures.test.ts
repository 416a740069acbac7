/**
 * Journal commit signatures travel with their events (`<id>.git`, in the event's record, same change):
 * a device that did not append an event still materializes its signed commit, and verify, receive and sync
 * check every signature over the commit built from its event.
 */
import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { initHash, sha256HexSync } from '../../../src/lib/core/hash.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { decodeSig, isSigForm, sigKey } from '../../../src/lib/core/journal/signatures.ts';
import { toBase64url } from '../../../src/lib/core/bytes.ts';
import { deleteEntry, entryOf, pushRecord, setEntry } from '../helpers/doc-edit.ts';

async function fromDoc(doc: A.Doc<any>): Promise<{ storage: MemoryStorage; ledger: Ledger }> {
  await initHash();
  const storage = new MemoryStorage();
  const bytes = A.save(doc);
  await storage.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
  return { storage, ledger: await Ledger.open({ storage, allowProblems: true }) };
}

const forgedSig = (value: string) => toBase64url(decodeSig(value)!.map((b, i) => (i === 0 ? b ^ 1 : b)));

describe('journal signatures in the document', () => {
  it('isSigForm accepts exactly the values decodeSig decodes to 64 bytes', () => {
    const values: unknown[] = [undefined, null, 64, '', 'A'.repeat(86), 'A'.repeat(85), 'A'.repeat(87), 'A'.repeat(88)];
    for (let i = 0; i < 200; i++) {
      const sig = toBase64url(crypto.getRandomValues(new Uint8Array(64)));
      values.push(sig, sig.slice(0, 85) + 'B', sig.slice(0, 85) + 'R', sig.slice(0, 85) + '_', sig.replace(/.$/, '='));
      values.push(sig.slice(0, 40) + '+' + sig.slice(41), sig + '\n', ` ${sig}`, sig.slice(1));
    }
    for (const last of '-_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')
      values.push('A'.repeat(85) + last);
    for (const v of values) expect(isSigForm(v), String(v)).toBe(decodeSig(v) !== undefined);
    expect(values.filter(isSigForm).length).toBeGreaterThan(200);
  });

  it('every append stores its signature under <id>.git in the same Automerge change', async () => {
    const { ledger } = await newLedger();
    const ev = await ledger.append('generation', generationBody());
    expect(decodeSig(entryOf(ledger.doc, sigKey(ev.id)))).toHaveLength(64);
    const last = A.decodeChange(A.getLastLocalChange(ledger.doc)!);
    // One insert into the records list: the event's record, its signature on the second line.
    expect((last.ops as any[]).map((o) => [o.action, o.insert])).toEqual([['set', true]]);
    expect(
      String((last.ops as any[])[0].value)
        .split('\n')
        .map((l) => l.split(' ')[0])
    ).toEqual([ev.id, sigKey(ev.id)]);
    expect(ledger.commitOf(ev.id)).toMatch(/^[0-9a-f]{40}$/);
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('a device that holds the events but not the key writes the identical, verifying commits', async () => {
    const { ledger } = await newLedger();
    for (let i = 0; i < 3; i++) await ledger.append('generation', generationBody());
    const other = await fromDoc(A.clone(ledger.doc));
    const tmp = mkdtempSync(path.join(tmpdir(), 'journal-sig-'));
    try {
      const j = await GitJournal.attach(nodeBinding(tmp), other.ledger); // no signer at all
      expect(j.missing.size).toBe(0);
      for (const ev of ledger.events()) expect(j.commitOf(ev.id)).toBe(ledger.commitOf(ev.id));
      await j.pack();
      execFileSync('git', ['--git-dir', path.join(tmp, 'journal.git'), 'fsck', '--strict'], { stdio: 'pipe' });
      expect(
        execFileSync('git', ['--git-dir', path.join(tmp, 'journal.git'), 'rev-list', '--count', 'main'], {
          encoding: 'utf8'
        }).trim()
      ).toBe('4');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('verify reports a changed, a missing and an orphan signature', async () => {
    const { ledger } = await newLedger();
    const a = await ledger.append('generation', generationBody());
    const b = await ledger.append('generation', generationBody());
    const changed = await fromDoc(
      A.change(A.clone(ledger.doc), (d: any) => setEntry(d, sigKey(a.id), forgedSig(entryOf(d, sigKey(a.id))!)))
    );
    const r1 = await changed.ledger.verify();
    expect(r1.problems.map((p) => [p.code, p.eventId])).toEqual([['JOURNAL_SIGNATURE_INVALID', a.id]]);
    const missing = await fromDoc(A.change(A.clone(ledger.doc), (d: any) => deleteEntry(d, sigKey(b.id))));
    expect((await missing.ledger.verify()).problems.map((p) => [p.code, p.eventId])).toEqual([
      ['JOURNAL_SIGNATURE_MISSING', b.id]
    ]);
    const orphan = await fromDoc(
      A.change(A.clone(ledger.doc), (d: any) => setEntry(d, sigKey('ab'.repeat(32)), entryOf(d, sigKey(b.id))!))
    );
    expect((await orphan.ledger.verify()).problems.map((p) => p.code)).toEqual(['JOURNAL_SIGNATURE_INVALID']);
  });

  it('verify --full refuses a signature with one byte flipped, across batches checked at once', async () => {
    const { ledger } = await newLedger();
    const evs = [];
    // More events than one batch of checks (256): the second batch's commits are built while the first verifies.
    for (let i = 0; i < 300; i++) evs.push(await ledger.append('generation', generationBody()));
    expect((await ledger.verify({ full: true })).problems).toEqual([]);
    for (const [at, byte] of [
      [3, 31],
      [280, 63]
    ]) {
      const id = evs[at].id;
      const flipped = (value: string) => toBase64url(decodeSig(value)!.map((b, i) => (i === byte ? b ^ 0x10 : b)));
      const changed = await fromDoc(
        A.change(A.clone(ledger.doc), (d: any) => setEntry(d, sigKey(id), flipped(entryOf(d, sigKey(id))!)))
      );
      // Its descendants' commits name its commit, so they fail too: only the first is reported.
      const r = await changed.ledger.verify({ full: true });
      expect(r.problems.map((p) => [p.code, p.eventId])).toEqual([['JOURNAL_SIGNATURE_INVALID', id]]);
    }
  });

  it('a signature value has one spelling: stray bits in its last character are refused', async () => {
    const { ledger } = await newLedger();
    const ev = await ledger.append('generation', generationBody());
    const value = entryOf(ledger.doc, sigKey(ev.id))!;
    expect(decodeSig(value)).toHaveLength(64);
    const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = B64URL.indexOf(value.at(-1)!);
    expect(last & 15).toBe(0);
    const other = value.slice(0, -1) + B64URL[last | 1];
    expect(decodeSig(other)).toBeUndefined();
    const changed = await fromDoc(A.change(A.clone(ledger.doc), (d: any) => setEntry(d, sigKey(ev.id), other)));
    expect((await changed.ledger.verify({ full: true })).problems.map((p) => [p.code, p.eventId])).toEqual([
      ['JOURNAL_SIGNATURE_INVALID', ev.id]
    ]);
  });

  it('receive refuses an event whose signature does not verify, and stores a good one', async () => {
    const { ledger, storage, signer } = await newLedger();
    const copy = new MemoryStorage();
    for (const c of await storage.loadRange([])) await copy.save(c.key, c.data);
    const other = await Ledger.open({ storage: copy, signer });
    const ev = await other.append('generation', generationBody());
    const json = other.envelopeJson(ev.id)!;
    const sig = other.journalSignature(ev.id)!;
    const bad = await ledger.receive([
      [ev.id, json],
      [sigKey(ev.id), forgedSig(sig)]
    ]);
    expect(bad.accepted).toEqual([]);
    expect(bad.problems.map((p) => p.code)).toEqual(['JOURNAL_SIGNATURE_INVALID']);
    const good = await ledger.receive([
      [ev.id, json],
      [sigKey(ev.id), sig]
    ]);
    expect(good.accepted).toEqual([ev.id]);
    expect(ledger.commitOf(ev.id)).toBe(other.commitOf(ev.id));
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('sync accepts changes with valid signatures and refuses a change carrying a forged one', async () => {
    const { ledger, storage, signer } = await newLedger();
    const copy = new MemoryStorage();
    for (const c of await storage.loadRange([])) await copy.save(c.key, c.data);
    const other = await Ledger.open({ storage: copy, signer });
    const before = A.getHeads(other.doc);
    const ev = await other.append('generation', generationBody());
    const changes = A.getChanges(A.view(other.doc, before), other.doc);
    // The same event with a forged signature, as a peer's own change.
    const forged = A.change(A.clone(ledger.doc, { actor: 'ab'.repeat(16) }), (d: any) => {
      pushRecord(d, [
        [ev.id, other.envelopeJson(ev.id)!],
        [sigKey(ev.id), forgedSig(other.journalSignature(ev.id)!)]
      ]);
    });
    const r1 = await ledger.applyVerifiedChanges([A.getLastLocalChange(forged)!]);
    expect(r1.accepted).toEqual([]);
    expect(r1.rejected).toHaveLength(1);
    const r2 = await ledger.applyVerifiedChanges(changes);
    expect(r2.accepted).toEqual([ev.id]);
    expect(ledger.commitOf(ev.id)).toBe(other.commitOf(ev.id));
    expect((await ledger.verify()).ok).toBe(true);
  });
});

describe('verify cross-checks the journal against the document', () => {
  it('reports JOURNAL_MISSING, JOURNAL_MISMATCH and JOURNAL_EXTRA', async () => {
    const { crossCheck } = await import('../../../src/lib/adapters/git/crosscheck.ts');
    const { ledger } = await newLedger();
    await ledger.append('generation', generationBody());
    const tmp = mkdtempSync(path.join(tmpdir(), 'journal-x-'));
    const gitdir = path.join(tmp, 'journal.git');
    const g = (...args: string[]) => execFileSync('git', ['--git-dir', gitdir, ...args], { encoding: 'utf8' }).trim();
    try {
      const binding = nodeBinding(tmp);
      const j = await GitJournal.attach(binding, ledger);
      expect(await crossCheck(binding, ledger)).toEqual([]);
      j.detach();
      const late = await ledger.append('generation', generationBody());
      expect((await crossCheck(binding, ledger)).map((p) => [p.code, p.eventId])).toEqual([
        ['JOURNAL_MISSING', late.id]
      ]);
      const tip = g('rev-parse', 'main');
      const raw = g('cat-file', 'commit', tip).replace('generation: Tripo', 'generation: Meshy') + '\n';
      const forged = execFileSync('git', ['--git-dir', gitdir, 'hash-object', '-w', '-t', 'commit', '--stdin'], {
        input: raw,
        encoding: 'utf8'
      }).trim();
      g('update-ref', 'refs/heads/main', forged);
      const codes = (await crossCheck(binding, ledger)).map((p) => p.code).sort();
      expect(codes).toEqual(['JOURNAL_MISMATCH', 'JOURNAL_MISSING', 'JOURNAL_MISSING']);
      const empty = g('hash-object', '-w', '-t', 'tree', '/dev/null');
      const stray = execFileSync('git', ['--git-dir', gitdir, 'commit-tree', empty, '-m', 'stray'], {
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 'x',
          GIT_AUTHOR_EMAIL: 'x@x',
          GIT_COMMITTER_NAME: 'x',
          GIT_COMMITTER_EMAIL: 'x@x'
        }
      }).trim();
      g('update-ref', 'refs/heads/other', stray);
      expect((await crossCheck(binding, ledger)).map((p) => p.code)).toContain('JOURNAL_EXTRA');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

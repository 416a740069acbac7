/**
 * A peer's Automerge changes are applied only when they do what a device's own appends do: insert records of
 * events (and their journal signatures) into the ledger's records list. Each other kind of change is refused
 * with CHANGE_NOT_EVENT, names what it does, and leaves the ledger as it was.
 */
import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { deleteEntry, entryOf, pushRecord, setEntry } from '../helpers/doc-edit.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { initHash, sha256HexSync } from '../../../src/lib/core/hash.ts';
import { layoutChange } from '../../../src/lib/core/docstore.ts';
import { sigKey } from '../../../src/lib/core/journal/signatures.ts';

async function victim() {
  const { ledger } = await newLedger();
  await ledger.append('generation', generationBody());
  const snapshot = () => ({ size: ledger.size, heads: ledger.heads().join(), am: A.getHeads(ledger.doc).join() });
  return { ledger, before: snapshot(), snapshot };
}

/** A peer's change made on a copy of the victim's document. */
const changeOn = (ledger: Ledger, edit: (d: any) => void): Uint8Array =>
  A.getLastLocalChange(A.change(A.clone(ledger.doc as A.Doc<any>), edit))!;

describe('changes from a peer', () => {
  const cases: Array<[string, (d: any, l: Ledger) => void, RegExp]> = [
    ['puts a root key', (d) => (d.note = new A.ImmutableString('x')), /root key "note"/],
    ['deletes a record', (d) => d.records.deleteAt(0), /"del"/],
    ['overwrites a record', (d, l) => setEntry(d, l.id, 'forged'), /overwrite/],
    ['removes a journal signature from its record', (d, l) => deleteEntry(d, sigKey(l.id)), /overwrite/],
    ['makes a second records list', (d) => (d.records = []), /"makeList"/],
    ['inserts an object', (d) => d.records.push({ id: 'x' }), /"makeMap"/],
    ['inserts text', (d) => d.records.push('abc'), /"makeText"/],
    ['inserts a number', (d) => d.records.push(5), /type int/],
    [
      'inserts a record that is not "<key> <value>" lines',
      (d) => d.records.push(new A.ImmutableString('nospace')),
      /without/
    ],
    [
      'inserts an entry under a key that is not an event id',
      (d) => pushRecord(d, [['project', 'x']]),
      /not an event id: "project"/
    ],
    [
      'inserts a journal signature that is not 64 bytes',
      (d, l) => pushRecord(d, [[sigKey(l.id), 'abc']]),
      /not 64 bytes/
    ],
    [
      'inserts one key twice',
      (d, l) =>
        pushRecord(d, [
          [sigKey(l.heads()[0]), entryOf(d, sigKey(l.id))!],
          [sigKey(l.heads()[0]), entryOf(d, sigKey(l.id))!]
        ]),
      /two entries/
    ]
  ];
  for (const [what, edit, why] of cases) {
    it(`is refused when it ${what}`, async () => {
      const v = await victim();
      const r = await v.ledger.applyVerifiedChanges([changeOn(v.ledger, (d) => edit(d, v.ledger))]);
      expect(r.applied).toEqual([]);
      expect(r.rejected.map((x) => x.code)).toEqual(['CHANGE_NOT_EVENT']);
      expect(r.rejected[0].message).toMatch(why);
      expect(v.snapshot()).toEqual(v.before);
      expect((await v.ledger.verify()).ok).toBe(true);
    });
  }

  it('a copy of the ledger started by itself (from Git, from an import) syncs: one records list, each event once', async () => {
    const { ledger, storage, signer } = await newLedger();
    const ev = await ledger.append('generation', generationBody());
    // A second device starts its own document from the genesis alone (its own change inserting the record).
    await initHash();
    const other = new MemoryStorage();
    const { DocStore } = await import('../../../src/lib/core/docstore.ts');
    const { store } = await DocStore.load(other);
    await store.commit([
      [ledger.id, ledger.envelopeJson(ledger.id)!],
      [sigKey(ledger.id), ledger.journalSignature(ledger.id)!]
    ]);
    const copy = await Ledger.open({ storage: other, signer });
    const mine = await copy.append('generation', generationBody());
    // Each side takes the other's changes through the checks.
    const toCopy = await copy.applyVerifiedChanges(A.getChanges(A.init(), ledger.doc));
    expect(toCopy.rejected).toEqual([]);
    expect(toCopy.accepted).toEqual([ev.id]);
    const toFirst = await ledger.applyVerifiedChanges(A.getChanges(A.init(), copy.doc));
    expect(toFirst.rejected).toEqual([]);
    expect(toFirst.accepted).toEqual([mine.id]);
    expect(A.getConflicts(ledger.doc, 'records')).toBeUndefined();
    expect(ledger.events().map((e) => e.id)).toEqual(copy.events().map((e) => e.id));
    expect(ledger.size).toBe(3);
    expect((await ledger.verify()).ok).toBe(true);
    void storage;
  });

  it('a ledger stored in the first layout (root keys) takes the layout change and the records of an upgraded peer', async () => {
    const { ledger } = await newLedger();
    const legacy = A.change(A.init<any>(), (d) => {
      d[ledger.id] = new A.ImmutableString(ledger.envelopeJson(ledger.id)!);
      d[sigKey(ledger.id)] = new A.ImmutableString(ledger.journalSignature(ledger.id)!);
    });
    await initHash();
    const storage = new MemoryStorage();
    const bytes = A.save(legacy);
    await storage.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
    const old = await Ledger.open({ storage });
    expect(old.size).toBe(1);
    const ev = await ledger.append('generation', generationBody());
    const changes = A.getChanges(A.init(), ledger.doc);
    expect(A.decodeChange(changes[0]).hash).toBe(layoutChange(ledger.id).hash);
    const r = await old.applyVerifiedChanges(changes);
    expect(r.rejected).toEqual([]);
    expect(r.accepted).toEqual([ev.id]);
    const again = await Ledger.open({ storage });
    expect(again.events().map((e) => e.id)).toEqual(ledger.events().map((e) => e.id));
    expect((await again.verify()).ok).toBe(true);
  });
});

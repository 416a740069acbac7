/**
 * verify by signed tree heads (ledger-schema/README.md section 11, "What each mode proves"): an event covered by
 * a checkpoint its author's device signed needs no signature check of its own; everything else is checked as
 * before. These tests count the Ed25519 checks made (WebCrypto's verify) and tamper with the stored document and
 * log: every change is found in the default mode, with the same code, event and location as `full` finds it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as A from '@automerge/automerge';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { initHash, sha256HexSync } from '../../../src/lib/core/hash.ts';
import { canonicalJson } from '../../../src/lib/core/canonical.ts';
import { decodeSig, sigKey } from '../../../src/lib/core/journal/signatures.ts';
import { fromUtf8, toBase64url, utf8 } from '../../../src/lib/core/bytes.ts';
import type { Signer } from '../../../src/lib/core/keys.ts';
import type { StorageAdapter } from '../../../src/lib/core/storage.ts';
import { generationBody, newLedger, newSigner, steppingClock } from '../helpers/ledger.ts';
import { deleteEntry, entryOf, setEntry } from '../helpers/doc-edit.ts';
import { positions, rng } from '../helpers/tamper.ts';

afterEach(() => vi.restoreAllMocks());

/** Ed25519 checks made while `fn` runs (every signature check of the core goes through WebCrypto's verify). */
async function countChecks<T>(fn: () => Promise<T>): Promise<{ result: T; checks: number }> {
  const spy = vi.spyOn(crypto.subtle, 'verify');
  try {
    const result = await fn();
    return { result, checks: spy.mock.calls.length };
  } finally {
    spy.mockRestore();
  }
}

/** A ledger of the owner's genesis and four events, its device log attached and signed (checkpoint of size 5). */
async function signedLedger() {
  const { ledger, storage, signer } = await newLedger();
  for (let i = 0; i < 4; i++) await ledger.append('generation', generationBody());
  const log = await DeviceLog.attach(ledger, storage, { signer });
  await log.settled();
  log.detach();
  return { ledger, storage, signer };
}

/** A copy of `storage` whose document is `doc` (the device log and everything else kept). */
async function withDoc(storage: StorageAdapter, doc: A.Doc<unknown>): Promise<MemoryStorage> {
  await initHash();
  const copy = new MemoryStorage();
  for (const c of await storage.loadRange([])) if (c.key[0] !== 'doc') await copy.save(c.key, c.data);
  const bytes = A.save(doc);
  await copy.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
  return copy;
}

const verifyBoth = async (storage: StorageAdapter, ledgerId: string) => ({
  byHeads: await Ledger.verifyStorage(storage, ledgerId),
  full: await Ledger.verifyStorage(storage, ledgerId, { full: true })
});
const named = (r: { problems: Array<{ code: string; eventId?: string; location?: string }> }) =>
  r.problems.map((p) => [p.code, p.eventId, p.location]);

/** The envelope of `id` with `edit` applied to its parsed form, serialized canonically again. */
const edited = (json: string, edit: (env: any) => void) => {
  const env = JSON.parse(json);
  edit(env);
  return canonicalJson(env);
};
const flipSig = (sig: string) => toBase64url(decodeSig(sig)!.map((b, i) => (i === 7 ? b ^ 0x10 : b)));

describe('verify by signed tree heads', () => {
  it("takes the signer's events from its checkpoint (one Ed25519 check); --full checks every event and journal signature", async () => {
    const { ledger, storage } = await signedLedger();
    const heads = await countChecks(() => ledger.verify());
    expect(heads.result.ok).toBe(true);
    expect(heads.result.valid).toBe(5);
    expect(heads.result.signatures).toEqual({ mode: 'signed-heads', covered: 5, headSize: 5 });
    expect(heads.checks).toBe(1); // the checkpoint's signature
    const full = await countChecks(() => ledger.verify({ full: true }));
    expect(full.result.ok).toBe(true);
    expect(full.result.signatures).toEqual({ mode: 'full', covered: 0 });
    expect(full.checks).toBe(10); // 5 event signatures + 5 journal commit signatures
    // Without a device log (a ledger that never signed a checkpoint) every signature is checked.
    const bare = await newLedger();
    await bare.ledger.append('generation', generationBody());
    const none = await countChecks(() => bare.ledger.verify());
    expect(none.result.signatures).toEqual({ mode: 'signed-heads', covered: 0 });
    expect(none.checks).toBe(4);
    expect(storage).toBeDefined();
  });

  it('checks the events after the newest checkpoint one by one, and finds a forged one there', async () => {
    const { ledger, storage, signer } = await signedLedger();
    const later = await Ledger.open({ storage, signer, now: steppingClock(Date.parse('2026-11-02T00:00:00.000Z')) });
    const ev = await later.append('generation', generationBody());
    const r = await countChecks(() => later.verify());
    expect(r.result.ok).toBe(true);
    expect(r.result.signatures).toEqual({ mode: 'signed-heads', covered: 5, headSize: 5 });
    expect(r.checks).toBe(3); // the checkpoint, the new event's signature and its journal signature
    const forged = await withDoc(
      storage,
      A.change(A.clone(later.doc), (d: any) =>
        setEntry(
          d,
          ev.id,
          edited(entryOf(d, ev.id)!, (e) => (e.sig = flipSig(e.sig)))
        )
      )
    );
    const { byHeads, full } = await verifyBoth(forged, ledger.id);
    expect(named(byHeads)).toEqual([['SIGNATURE_INVALID', ev.id, `event ${ev.id}`]]);
    expect(named(byHeads)).toEqual(named(full));
  });

  it('finds every tampering of a covered event in the default mode, named as --full names it', async () => {
    const { ledger, storage } = await signedLedger();
    const victim = ledger.events()[2].id;
    const other = ledger.events()[3].id;
    const json = ledger.envelopeJson(victim)!;
    const tampers: Array<[string, string]> = [
      ['its signature changed', edited(json, (e) => (e.sig = flipSig(e.sig)))],
      ["another event's signature", edited(json, (e) => (e.sig = JSON.parse(ledger.envelopeJson(other)!).sig))],
      ['a body field changed, signature kept', edited(json, (e) => (e.event.body.project = 'Tin Robots'))],
      ['its time changed, signature kept', edited(json, (e) => (e.event.time = '2026-11-01T09:00:03.500Z'))],
      ['not canonical (a space added)', json.replace('{"event":', '{ "event":')],
      ["another event's envelope under its id", ledger.envelopeJson(other)!]
    ];
    // Single bytes changed anywhere in the envelope (seeded: the same positions every run).
    const rand = rng(13);
    for (const at of positions(json.length, 24, rand)) {
      const c = json.charCodeAt(at);
      const to = String.fromCharCode(c === 0x41 ? 0x42 : c ^ 0x01);
      if (to === '\n') continue; // a record line holds no newline
      tampers.push([`byte ${at} changed`, json.slice(0, at) + to + json.slice(at + 1)]);
    }
    let caught = 0;
    for (const [what, value] of tampers) {
      const damaged = await withDoc(
        storage,
        A.change(A.clone(ledger.doc), (d: any) => setEntry(d, victim, value))
      );
      const { byHeads, full } = await verifyBoth(damaged, ledger.id);
      expect(byHeads.ok, what).toBe(false);
      expect(byHeads.signatures?.covered, `${what}: a head over other bytes covers nothing`).toBe(0);
      expect(named(byHeads), what).toEqual(named(full));
      expect(
        byHeads.problems.some((p) => p.eventId === victim),
        what
      ).toBe(true);
      caught++;
    }
    expect(caught).toBe(tampers.length);
  });

  it('covers only the events of the key that signed the checkpoint: a teammate’s event in the log is checked by itself', async () => {
    const { ledger, storage, signer } = await newLedger();
    const bob = await newSigner();
    await ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob', key: bob.publicKey, role: 'member' }
    });
    // Bob appends on his copy; the owner's device receives his event.
    const copy = new MemoryStorage();
    for (const c of await storage.loadRange([])) await copy.save(c.key, c.data);
    const asBob = await Ledger.open({
      storage: copy,
      signer: bob,
      now: steppingClock(Date.parse('2026-11-03T00:00:00.000Z'))
    });
    const bobs = await asBob.append('generation', generationBody());
    const got = await ledger.receive([
      [bobs.id, asBob.envelopeJson(bobs.id)!],
      [sigKey(bobs.id), asBob.journalSignature(bobs.id)!]
    ]);
    expect(got.accepted).toEqual([bobs.id]);
    const log = await DeviceLog.attach(ledger, storage, { signer });
    await log.settled();
    log.detach();
    const r = await countChecks(() => ledger.verify());
    expect(r.result.ok).toBe(true);
    expect(r.result.signatures).toEqual({ mode: 'signed-heads', covered: 2, headSize: 3 });
    expect(r.checks).toBe(3); // the checkpoint, Bob's event signature and his journal signature

    // Bob's event with a forged signature, logged and signed over by the owner's device: still refused.
    const forgedDoc = A.change(A.clone(ledger.doc), (d: any) =>
      setEntry(
        d,
        bobs.id,
        edited(entryOf(d, bobs.id)!, (e) => (e.sig = flipSig(e.sig)))
      )
    );
    const forged = await resignedLog(forgedDoc, storage, signer);
    const { byHeads, full } = await verifyBoth(forged, ledger.id);
    expect(byHeads.signatures).toEqual({ mode: 'signed-heads', covered: 2, headSize: 3 });
    expect(named(byHeads)).toEqual([['SIGNATURE_INVALID', bobs.id, `event ${bobs.id}`]]);
    expect(named(full)).toEqual(named(byHeads));
  });

  it("what the default mode proves: the signer's head over its own event's bytes is its signature; --full checks the event signature itself", async () => {
    const { ledger, storage, signer } = await signedLedger();
    const own = ledger.events().at(-1)!.id; // the newest: no event names it as a parent
    // The device key itself signs a head over its own event with a broken event signature (only its holder can).
    const doc = A.change(A.clone(ledger.doc), (d: any) =>
      setEntry(
        d,
        own,
        edited(entryOf(d, own)!, (e) => (e.sig = flipSig(e.sig)))
      )
    );
    const resigned = await resignedLog(doc, storage, signer);
    const { byHeads, full } = await verifyBoth(resigned, ledger.id);
    expect(byHeads.ok).toBe(true);
    expect(byHeads.signatures).toEqual({ mode: 'signed-heads', covered: 5, headSize: 5 });
    expect(named(full)).toEqual([['SIGNATURE_INVALID', own, `event ${own}`]]);
  });

  it('a damaged log or checkpoint covers nothing: every signature is checked, and the ledger still verifies', async () => {
    const { ledger, storage } = await signedLedger();
    const cpKey = (await storage.listKeys(['log', 'checkpoints']))[0];
    const note = fromUtf8((await storage.load(cpKey))!);
    const leafKey = (await storage.listKeys(['log', 'leaves']))[0];
    const leaves = (await storage.load(leafKey))!;
    const swapped = new Uint8Array(leaves);
    swapped.set(leaves.subarray(64, 96), 128);
    swapped.set(leaves.subarray(128, 160), 64); // the ids of leaves 1 and 2 exchanged
    const damages: Array<[string, (s: MemoryStorage) => Promise<void>]> = [
      [
        'checkpoint signature changed',
        (s) =>
          s.save(
            cpKey,
            utf8(note.replace(/ (\S)(\S+)\n$/, (_m, a: string, b: string) => ` ${a === 'A' ? 'B' : 'A'}${b}\n`))
          )
      ],
      [
        'checkpoint root changed',
        (s) => s.save(cpKey, utf8(note.replace(/\n([A-Za-z0-9+/])/, (_m, a: string) => `\n${a === 'A' ? 'B' : 'A'}`)))
      ],
      ['checkpoint gone', (s) => s.remove(cpKey)],
      ['log leaves reordered', (s) => s.save(leafKey, swapped)],
      ['log leaves gone', (s) => s.remove(leafKey)]
    ];
    for (const [what, damage] of damages) {
      const copy = await withDoc(storage, ledger.doc);
      await damage(copy);
      const r = await countChecks(() => Ledger.verifyStorage(copy, ledger.id));
      expect(r.result.ok, what).toBe(true);
      expect(r.result.signatures?.covered, what).toBe(0);
      expect(r.checks, what).toBe(10);
    }
  });

  it("a covered event's journal signature: missing or malformed is found in both modes, a forged one by --full", async () => {
    const { ledger, storage } = await signedLedger();
    const id = ledger.events()[2].id;
    const sig = ledger.journalSignature(id)!;
    const cases: Array<[string, (d: any) => void, string[][], string[][]]> = [
      [
        'missing',
        (d) => deleteEntry(d, sigKey(id)),
        [['JOURNAL_SIGNATURE_MISSING', id, `event ${id}`]],
        [['JOURNAL_SIGNATURE_MISSING', id, `event ${id}`]]
      ],
      [
        'malformed',
        (d) => setEntry(d, sigKey(id), sig.slice(0, 40)),
        [['JOURNAL_SIGNATURE_INVALID', id, `event ${id}.git`]],
        [['JOURNAL_SIGNATURE_INVALID', id, `event ${id}.git`]]
      ],
      [
        'forged (64 bytes)',
        (d) => setEntry(d, sigKey(id), flipSig(sig)),
        [],
        [['JOURNAL_SIGNATURE_INVALID', id, `event ${id}.git`]]
      ]
    ];
    for (const [what, edit, byHeadsWant, fullWant] of cases) {
      const damaged = await withDoc(storage, A.change(A.clone(ledger.doc), edit));
      const { byHeads, full } = await verifyBoth(damaged, ledger.id);
      expect(named(byHeads), what).toEqual(byHeadsWant);
      expect(named(full), what).toEqual(fullWant);
    }
  });
});

/** Storage holding `doc` and a device log written from it and signed by `signer` (as a device with that key would). */
async function resignedLog(doc: A.Doc<unknown>, storage: StorageAdapter, signer: Signer): Promise<MemoryStorage> {
  const copy = await withDoc(storage, doc);
  for (const k of await copy.listKeys(['log'])) await copy.remove(k);
  const reopened = await Ledger.open({ storage: copy, signer });
  const log = await DeviceLog.attach(reopened, copy, { signer });
  await log.settled();
  log.detach();
  return copy;
}

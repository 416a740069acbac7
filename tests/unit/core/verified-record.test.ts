/**
 * The verified record (ledger-schema/README.md section 11, "What each mode proves"): after a sound default verify
 * over a checkpoint, this device's HMAC-authenticated record lets the next default verify take the canonical
 * form, schema and id of the events under that checkpoint from it, when the root recomputed from the stored
 * envelopes and the leaf ids are the same. Everything else runs. A record that does not match, is damaged or is
 * not this device's is ignored: the results are those of a verify without one.
 */
import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { storedSignedHead } from '../../../src/lib/core/proofs/signed-head.ts';
import { initHash, sha256HexSync } from '../../../src/lib/core/hash.ts';
import { canonicalJson } from '../../../src/lib/core/canonical.ts';
import { fromUtf8, toBase64url, toHex, utf8 } from '../../../src/lib/core/bytes.ts';
import {
  recordSubject,
  verifiedRecordKey,
  VERIFIED_RECORD_KEY,
  VERIFY_RULES,
  writeVerifiedRecord,
  type RecordSubject
} from '../../../src/lib/core/verified-record.ts';
import type { StorageAdapter } from '../../../src/lib/core/storage.ts';
import { pinnedEnvelope, type VerifyReport } from '../../../src/lib/core/verify.ts';
import { generationBody, newLedger, newSigner, steppingClock } from '../helpers/ledger.ts';
import { decodeSig, sigKey } from '../../../src/lib/core/journal/signatures.ts';
import { entryOf, setEntry } from '../helpers/doc-edit.ts';

const newKey = () => verifiedRecordKey(crypto.getRandomValues(new Uint8Array(48)));

/** A ledger of the owner's genesis and four events, its device log attached and signed (checkpoint of size 5). */
async function signedLedger() {
  const { ledger, storage, signer } = await newLedger();
  for (let i = 0; i < 4; i++) await ledger.append('generation', generationBody());
  const log = await DeviceLog.attach(ledger, storage, { signer });
  await log.settled();
  log.detach();
  return { ledger, storage, signer, key: await newKey() };
}

/** A copy of `storage` (every key) whose document is `doc` when given. */
async function copyOf(storage: StorageAdapter, doc?: A.Doc<unknown>): Promise<MemoryStorage> {
  await initHash();
  const copy = new MemoryStorage();
  for (const c of await storage.loadRange([])) if (!doc || c.key[0] !== 'doc') await copy.save(c.key, c.data);
  if (doc) {
    const bytes = A.save(doc);
    await copy.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
  }
  return copy;
}

/** The record subject of the newest checkpoint over the stored document of `storage`. */
async function subjectOf(storage: StorageAdapter, ledgerId: string): Promise<RecordSubject> {
  const ledger = await Ledger.open({ storage, allowProblems: true, compactOnLoad: false });
  const envelopes = new Map<string, string>();
  for (const rec of (ledger.doc as unknown as { records: Array<{ val: string }> }).records)
    for (const line of rec.val.split('\n')) {
      const at = line.indexOf(' ');
      if (!envelopes.has(line.slice(0, at))) envelopes.set(line.slice(0, at), line.slice(at + 1));
    }
  const head = await storedSignedHead(storage, ledgerId, envelopes);
  expect(head.size).toBeGreaterThan(0);
  return recordSubject(ledgerId, { size: head.size, root: head.root!, ids: head.ids!, note: head.note! });
}

/** What a verify found, without how it got there. */
const found = (r: VerifyReport) => ({
  ok: r.ok,
  checked: r.checked,
  valid: r.valid,
  ledgerId: r.ledgerId,
  problems: r.problems,
  signatures: r.signatures
});
const named = (r: VerifyReport) => r.problems.map((p) => [p.code, p.eventId, p.location]);
const stored = async (s: StorageAdapter) => {
  const b = await s.load(VERIFIED_RECORD_KEY);
  return b && fromUtf8(b);
};

/** A record body authenticated with `key`, as writeVerifiedRecord writes it, with `edit` applied first. */
async function forgedRecord(key: CryptoKey, subject: RecordSubject, edit: (r: Record<string, unknown>) => void) {
  const rec: Record<string, unknown> = {
    format: 'provenance-ledger/verified/v1',
    ...subject,
    rules: VERIFY_RULES,
    checked: '2026-12-01T00:00:00.000Z'
  };
  edit(rec);
  const body = utf8(JSON.stringify(rec));
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, body as BufferSource));
  return utf8(`${toHex(mac)}\n${fromUtf8(body)}`);
}

describe('the verified record', () => {
  it('a sound default verify writes it; the next takes form, schema and id of the events under the head from it', async () => {
    const { ledger, storage, key } = await signedLedger();
    const cold = await ledger.verify({ record: { key } });
    expect(cold.ok).toBe(true);
    expect(cold.record).toBeUndefined();
    const text = await stored(storage);
    expect(text).toMatch(/^[0-9a-f]{64}\n\{/);
    const body = JSON.parse(text!.slice(65));
    expect(body).toMatchObject({ ledger: ledger.id, size: 5, rules: VERIFY_RULES });
    const warm = await ledger.verify({ record: { key } });
    expect(found(warm)).toEqual(found(cold));
    expect(warm.record).toEqual({ pinned: 5, headSize: 5, checked: body.checked });
    expect(await stored(storage)).toBe(text); // used, not written again
    // Without the key, or with --full: never read.
    expect((await ledger.verify()).record).toBeUndefined();
    const full = await ledger.verify({ full: true, record: { key } });
    expect(full.ok).toBe(true);
    expect(full.record).toBeUndefined();
  });

  it('verify --full and a verify without a key write no record', async () => {
    const { ledger, storage, key } = await signedLedger();
    expect((await ledger.verify({ full: true, record: { key } })).ok).toBe(true);
    expect((await ledger.verify()).ok).toBe(true);
    expect(await stored(storage)).toBeUndefined();
    const deferred = await ledger.verify({ record: { key, write: false } });
    expect(await stored(storage)).toBeUndefined();
    expect(deferred.recordable).toEqual(await subjectOf(storage, ledger.id));
  });

  it('with a record, a covered event changed by one byte in its body is found as --full finds it', async () => {
    const { ledger, storage, key } = await signedLedger();
    expect((await ledger.verify({ record: { key } })).ok).toBe(true);
    const victim = ledger.events()[2].id;
    const json = ledger.envelopeJson(victim)!;
    const at = json.indexOf('"project":"') + 12;
    const value = json.slice(0, at) + String.fromCharCode(json.charCodeAt(at) ^ 0x01) + json.slice(at + 1);
    const damaged = await copyOf(
      storage,
      A.change(A.clone(ledger.doc), (d: any) => setEntry(d, victim, value))
    );
    const before = await stored(damaged);
    expect(before).toBeDefined();
    const byRecord = await Ledger.verifyStorage(damaged, ledger.id, { record: { key } });
    const full = await Ledger.verifyStorage(damaged, ledger.id, { full: true });
    expect(byRecord.ok).toBe(false);
    expect(byRecord.record).toBeUndefined();
    expect(named(byRecord)).toEqual(named(full));
    expect(byRecord.problems.some((p) => p.eventId === victim)).toBe(true);
    expect(await stored(damaged)).toBe(before); // a verify with problems writes nothing
  });

  it('a verify that finds a problem writes no record', async () => {
    const { ledger, storage, key } = await signedLedger();
    const victim = ledger.events()[3].id;
    const bad = await copyOf(
      storage,
      A.change(A.clone(ledger.doc), (d: any) =>
        setEntry(d, victim, entryOf(d, victim)!.replace('{"event":', '{ "event":'))
      )
    );
    const r = await Ledger.verifyStorage(bad, ledger.id, { record: { key } });
    expect(r.ok).toBe(false);
    expect(r.recordable).toBeUndefined();
    expect(await bad.load(VERIFIED_RECORD_KEY)).toBeUndefined();
  });

  it('a record for another root, size, leaf ids, checkpoint, ledger or rules, a flipped MAC, a torn or foreign one: ignored', async () => {
    const { ledger, storage, key } = await signedLedger();
    const subject = await subjectOf(storage, ledger.id);
    const plain = found(await Ledger.verifyStorage(storage, ledger.id));
    const good = await forgedRecord(key, subject, () => {});
    const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    const cases: Array<[string, Uint8Array]> = [
      ['another root', await forgedRecord(key, subject, (r) => (r.root = flip(subject.root)))],
      ['another size', await forgedRecord(key, subject, (r) => (r.size = 4))],
      ['other leaf ids', await forgedRecord(key, subject, (r) => (r.ids = flip(subject.ids)))],
      ['another checkpoint text', await forgedRecord(key, subject, (r) => (r.checkpoint = flip(subject.checkpoint)))],
      ['another ledger', await forgedRecord(key, subject, (r) => (r.ledger = flip(subject.ledger)))],
      ['other rules', await forgedRecord(key, subject, (r) => (r.rules = VERIFY_RULES + 1))],
      ['another format', await forgedRecord(key, subject, (r) => (r.format = 'provenance-ledger/verified/v0'))],
      ['a flipped MAC', utf8(flip(fromUtf8(good)))],
      ['a flipped body byte', good.map((b, i) => (i === good.length - 3 ? b ^ 0x01 : b))],
      ['torn', good.subarray(0, good.length >> 1)],
      ['empty', new Uint8Array(0)],
      ['another device key', await forgedRecord(await newKey(), subject, () => {})],
      [
        'not JSON, authenticated',
        await (async () => {
          const body = utf8('{"format":');
          const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, body as BufferSource));
          return utf8(`${toHex(mac)}\n{"format":`);
        })()
      ]
    ];
    for (const [what, bytes] of cases) {
      const s = await copyOf(storage);
      await s.save(VERIFIED_RECORD_KEY, bytes);
      const r = await Ledger.verifyStorage(s, ledger.id, { record: { key, write: false } });
      expect(r.record, what).toBeUndefined();
      expect(found(r), what).toEqual(plain);
    }
    // The well-formed one is used.
    const s = await copyOf(storage);
    await s.save(VERIFIED_RECORD_KEY, good);
    const used = await Ledger.verifyStorage(s, ledger.id, { record: { key } });
    expect(used.record).toEqual({ pinned: 5, headSize: 5, checked: '2026-12-01T00:00:00.000Z' });
    expect(found(used)).toEqual(plain);
  });

  it("a teammate's event under the head is pinned, yet its signature is still checked: a forged one is found", async () => {
    const { ledger, storage, signer } = await newLedger();
    const key = await newKey();
    const bob = await newSigner();
    await ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob', key: bob.publicKey, role: 'member' }
    });
    const copy = await copyOf(storage);
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
    // Bob's event with a forged signature, logged and signed over by the owner's device, and a record of this
    // device for exactly that checkpoint (as if a verify had passed it).
    const forgedDoc = A.change(A.clone(ledger.doc), (d: any) => {
      const env = JSON.parse(entryOf(d, bobs.id)!);
      env.sig = toBase64url(decodeSig(env.sig)!.map((b, i) => (i === 7 ? b ^ 0x10 : b)));
      setEntry(d, bobs.id, canonicalJson(env));
    });
    const forged = await copyOf(storage, forgedDoc);
    for (const k of await forged.listKeys(['log'])) await forged.remove(k);
    const reopened = await Ledger.open({ storage: forged, signer });
    const log = await DeviceLog.attach(reopened, forged, { signer });
    await log.settled();
    log.detach();
    expect(await writeVerifiedRecord(forged, key, await subjectOf(forged, ledger.id))).toBe(true);
    const r = await Ledger.verifyStorage(forged, ledger.id, { record: { key } });
    expect(r.record).toMatchObject({ pinned: 2, headSize: 3 });
    expect(named(r)).toEqual([['SIGNATURE_INVALID', bobs.id, `event ${bobs.id}`]]);
    expect(named(await Ledger.verifyStorage(forged, ledger.id, { full: true }))).toEqual(named(r));
  });

  it("the leaf ids are pinned too: two envelopes exchanged between their ids, the log's ids exchanged alike, is found", async () => {
    const { ledger, storage, key } = await signedLedger();
    expect((await ledger.verify({ record: { key } })).ok).toBe(true);
    // The same leaf bytes in the same order (so the same root and a valid checkpoint), each under the other's id.
    const [a, b] = [ledger.events()[3].id, ledger.events()[4].id];
    const doc = A.change(A.clone(ledger.doc), (d: any) => {
      const ja = entryOf(d, a)!;
      setEntry(d, a, entryOf(d, b)!);
      setEntry(d, b, ja);
    });
    const swapped = await copyOf(storage, doc);
    const leavesKey = ['log', 'leaves', '00000000'];
    const leaves = new Uint8Array((await swapped.load(leavesKey))!);
    const slot = (id: string) => {
      for (let o = 0; o < leaves.length; o += 64) if (toHex(leaves.subarray(o, o + 32)) === id) return o;
      throw new Error(`no leaf for ${id}`);
    };
    const [oa, ob] = [slot(a), slot(b)];
    const ida = leaves.slice(oa, oa + 32);
    leaves.copyWithin(oa, ob, ob + 32);
    leaves.set(ida, ob);
    await swapped.save(leavesKey, leaves);
    // The checkpoint still holds over the stored bytes (same root, signature good); only the ids differ.
    const recorded = JSON.parse((await stored(swapped))!.slice(65));
    const now = await subjectOf(swapped, ledger.id);
    expect(now.root).toBe(recorded.root);
    expect(now.ids).not.toBe(recorded.ids);
    const r = await Ledger.verifyStorage(swapped, ledger.id, { record: { key } });
    expect(r.record).toBeUndefined();
    expect(r.ok).toBe(false);
    expect(named(r)).toEqual(named(await Ledger.verifyStorage(swapped, ledger.id, { full: true })));
    expect(canonicalJson(r.problems.map((p) => p.code).sort())).toContain('ID_MISMATCH');
  });
  it('a pinned envelope read without its body reads as the whole parse does, body included when asked for', async () => {
    const { ledger } = await newLedger();
    const bob = await newSigner();
    await ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob', key: bob.publicKey, role: 'member' }
    });
    await ledger.append('generation', generationBody());
    const jsons = ledger.events().map((e) => ledger.envelopeJson(e.id)!);
    expect(jsons.some((j) => !j.includes('"ledger":'))).toBe(true); // the genesis
    for (const json of jsons) {
      const env = pinnedEnvelope(json)!;
      expect(env).toBeDefined();
      expect(canonicalJson(env)).toBe(json);
      expect(env).toEqual(JSON.parse(json));
    }
    expect(pinnedEnvelope(jsons[2].replace('{"event":', '{ "event":'))).toBeUndefined();
    expect(pinnedEnvelope(jsons[2].slice(0, -2))).toBeUndefined();
  });
});

/**
 * Witnessing at sync (ledger-schema/README.md section 19): two hubs over an in-memory room, each with its
 * device's Merkle log. After sync each holds the other's cosignature on its newest checkpoint and a bundle built
 * afterwards verifies as witnessed; a forked or rolled-back log is refused, reported on both sides and never
 * cosigned; hostile witness messages are refused with a clear message and change nothing.
 */
import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { concatBytes, fromUtf8, utf8 } from '../../../src/lib/core/bytes.ts';
import { memoryRoom, type Transport } from '../../../src/lib/core/sync/transport.ts';
import { SyncHub, type SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { newTeamKey, roomId, type TeamKey } from '../../../src/lib/core/team/teamkey.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { buildBundle } from '../../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { logVerifierKey, witnessVerifierKey } from '../../../src/lib/core/proofs/keys.ts';
import {
  loadWitnessState,
  makeWitnessRequest,
  witnessCheckpoint,
  WITNESS_RESPONSE_FORMAT
} from '../../../src/lib/core/proofs/witness.ts';
import type { WitnessLog } from '../../../src/lib/core/proofs/witness-sync.ts';
import { createCosignatureVerifier, cosignaturesOf } from '../../../src/lib/core/merkle/cosignature.ts';
import { openCheckpoint } from '../../../src/lib/core/merkle/checkpoint.ts';
import { createEd25519Verifier, formatNote, parseNote } from '../../../src/lib/core/merkle/note.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { generationBody, newSigner, steppingClock } from '../helpers/ledger.ts';
import { MODEL_SHA, copyDoc, makeTeam, type Team } from '../proofs/helpers.ts';
import { until } from './helpers.ts';
import { Hostile } from './hostile-peer.ts';

type Dev = Team['ada'];

async function teamKey(): Promise<{ key: TeamKey; room: string }> {
  const key = newTeamKey(1);
  return { key, room: await roomId(key) };
}

function hub(
  d: Dev,
  k: { key: TeamKey; room: string },
  transport: Transport,
  reports: SyncReport[],
  opts: { log?: WitnessLog | null; maxStrikes?: number; witnessTimeoutMs?: number } = {}
) {
  return SyncHub.start({
    ledger: d.ledger,
    storage: d.storage,
    signer: d.signer,
    team: k.key,
    room: k.room,
    transport,
    onReport: (r) => reports.push(r),
    log: opts.log === null ? undefined : (opts.log ?? d.log),
    witnessDelayMs: 50,
    witnessTimeoutMs: opts.witnessTimeoutMs,
    maxStrikes: opts.maxStrikes
  });
}

const rejected = (rs: SyncReport[]) =>
  rs.filter((r) => r.type === 'rejected') as Array<Extract<SyncReport, { type: 'rejected' }>>;
const codes = (rs: SyncReport[]) => rejected(rs).map((r) => r.code);
const of = <T extends SyncReport['type']>(rs: SyncReport[], t: T) =>
  rs.filter((r) => r.type === t) as Array<Extract<SyncReport, { type: T }>>;

/** The cosignatures by `witness`'s witness key on `owner`'s stored checkpoint of `size` (verified). */
async function cosignaturesOn(owner: Dev, witness: Dev, size: number) {
  const note = await owner.log.checkpointNote(size);
  if (!note) return [];
  const wv = await createCosignatureVerifier(await witnessVerifierKey(owner.ledger.id, witness.signer.publicKey));
  const { note: opened } = await openCheckpoint(
    note,
    await createEd25519Verifier(await logVerifierKey(owner.ledger.id, owner.signer.publicKey)),
    [wv]
  );
  return cosignaturesOf(opened, [wv]);
}

async function allNotes(log: DeviceLog): Promise<string[]> {
  return Promise.all((await log.checkpointSizes()).map(async (n) => (await log.checkpointNote(n))!));
}

describe('witnessing at each sync', () => {
  it('after sync each device holds a cosignature by the other on its newest checkpoint; bundles verify as witnessed; later changes are witnessed again', async () => {
    const t = await makeTeam();
    const { ada, grace } = t;
    const graceGen = await grace.ledger.append('generation', generationBody({ project: 'Grace offline' }));
    await grace.log.settled();
    const k = await teamKey();
    const r = memoryRoom();
    const ra: SyncReport[] = [];
    const rg: SyncReport[] = [];
    const ha = await hub(ada, k, r.join(), ra);
    const hg = await hub(grace, k, r.join(), rg);
    await until(() => ada.ledger.size === grace.ledger.size && ada.ledger.size === 6, 10_000, 'convergence');
    await until(() => ha.quiet(100) && hg.quiet(100), 10_000, 'quiet');
    expect(codes([...ra, ...rg])).toEqual([]);

    // Each log holds every event, and its newest checkpoint carries the other's cosignature.
    expect(ada.log.size).toBe(6);
    expect(grace.log.size).toBe(6);
    expect(await cosignaturesOn(ada, grace, 6)).toHaveLength(1);
    expect(await cosignaturesOn(grace, ada, 6)).toHaveLength(1);
    expect(of(ra, 'witnessed').at(-1)).toMatchObject({ peer: grace.signer.publicKey, size: 6 });
    expect(of(rg, 'cosigned').at(-1)).toMatchObject({ peer: ada.signer.publicKey, size: 6 });
    expect(of(rg, 'witnessed').at(-1)).toMatchObject({ peer: ada.signer.publicKey, size: 6 });
    // What each witness keeps: the size and root it cosigned.
    const state = await loadWitnessState(grace.storage, ada.ledger.id, ada.signer.publicKey);
    expect(state).toMatchObject({ size: 6 });
    expect(state!.root).toBe(Buffer.from(ada.log.root()).toString('base64'));

    // A bundle built now uses the cosigned checkpoint and verifies as witnessed, on both devices.
    const a = await buildBundle({
      ledger: ada.ledger,
      log: ada.log,
      logPublicKey: ada.signer.publicKey,
      subject: { sha256: MODEL_SHA, name: 'model.glb' }
    });
    const va = await verifyBundle(a.bytes);
    expect(va.failures).toEqual([]);
    expect(va.facts!.cosignatures.map((c) => c.member)).toEqual(['Grace']);
    expect(a.bundle.report).toMatch(/witnessed by Grace at /);
    const g = await buildBundle({
      ledger: grace.ledger,
      log: grace.log,
      logPublicKey: grace.signer.publicKey,
      subject: { event: graceGen.id }
    });
    const vg = await verifyBundle(g.bytes);
    expect(vg.failures).toEqual([]);
    expect(vg.facts!.cosignatures.map((c) => c.member)).toEqual(['Ada']);
    // The stored logs still check out, cosignatures included.
    expect(await DeviceLog.verifyStorage(ada.storage, ada.ledger, ada.signer.publicKey)).toEqual([]);
    expect(await DeviceLog.verifyStorage(grace.storage, grace.ledger, grace.signer.publicKey)).toEqual([]);

    // A live change: witnessed again at the new size, from the checkpoint cosigned before (consistency proof).
    await ada.ledger.append('generation', generationBody({ project: 'Live' }));
    ha.poke();
    await until(() => grace.ledger.size === 7, 5000, 'live event');
    await until(
      () => of(ra, 'witnessed').some((w) => w.size === 7) && of(rg, 'witnessed').some((w) => w.size === 7),
      5000,
      'witnessing of the live change'
    );
    await until(() => ha.quiet(100) && hg.quiet(100), 10_000, 'quiet');
    expect(await cosignaturesOn(ada, grace, 7)).toHaveLength(1);
    expect(await cosignaturesOn(grace, ada, 7)).toHaveLength(1);
    expect((await loadWitnessState(grace.storage, ada.ledger.id, ada.signer.publicKey))!.size).toBe(7);
    expect(codes([...ra, ...rg])).toEqual([]);
    // Debounced: one exchange per side per burst of sync, not one per sync message.
    expect(of(ra, 'witnessed').length).toBeLessThanOrEqual(4);
    await ha.close();
    await hg.close();
  });

  it('three devices: each newest checkpoint ends up cosigned by both teammates, one cosignature per witness', async () => {
    const t = await makeTeam();
    const { ada, grace } = t;
    const k = await teamKey();
    const cleoSigner = await newSigner();
    await ada.ledger.append('member', {
      action: 'add',
      member: { id: 'cleo', name: 'Cleo', key: cleoSigner.publicKey, role: 'member' }
    });
    // Grace learns of Cleo first (and Ada and Grace witness each other).
    {
      const r = memoryRoom();
      const rs: SyncReport[] = [];
      const hubs = [await hub(ada, k, r.join(), rs), await hub(grace, k, r.join(), rs)];
      await until(() => grace.ledger.size === ada.ledger.size, 10_000, 'Grace has the member add');
      await until(() => hubs.every((h) => h.quiet(100)), 10_000, 'quiet');
      for (const h of hubs) await h.close();
    }
    const cStorage = await copyDoc(ada.storage);
    const cLedger = await Ledger.open({
      storage: cStorage,
      signer: cleoSigner,
      now: steppingClock(Date.parse('2026-11-03T09:00:00.000Z'))
    });
    const cleo: Dev = {
      ledger: cLedger,
      storage: cStorage,
      signer: cleoSigner,
      log: await DeviceLog.attach(cLedger, cStorage, { signer: cleoSigner })
    };
    await cleo.ledger.append('generation', generationBody({ project: 'Cleo offline' }));
    await grace.ledger.append('generation', generationBody({ project: 'Grace offline' }));
    const r = memoryRoom();
    const rs: SyncReport[] = [];
    const devs = [ada, grace, cleo];
    const hubs: SyncHub[] = [];
    for (const d of devs) hubs.push(await hub(d, k, r.join(), rs));
    const total = ada.ledger.size + 2;
    await until(() => devs.every((d) => d.ledger.size === total), 10_000, 'convergence of three');
    await until(() => hubs.every((h) => h.quiet(200)), 15_000, 'quiet');
    expect(codes(rs)).toEqual([]);
    for (const d of devs) {
      expect(d.log.size).toBe(total);
      const note = parseNote((await d.log.checkpointNote(total))!);
      expect(note.signatures).toHaveLength(3); // the log's own and one cosignature by each teammate
      for (const w of devs.filter((x) => x !== d)) expect(await cosignaturesOn(d, w, total)).toHaveLength(1);
      expect(await DeviceLog.verifyStorage(d.storage, d.ledger, d.signer.publicKey)).toEqual([]);
    }
    for (const h of hubs) await h.close();
  });

  it('a device whose hub has no log of its own still witnesses its peers', async () => {
    const t = await makeTeam();
    const k = await teamKey();
    const r = memoryRoom();
    const ra: SyncReport[] = [];
    const rg: SyncReport[] = [];
    const ha = await hub(t.ada, k, r.join(), ra);
    const hg = await hub(t.grace, k, r.join(), rg, { log: null });
    await until(() => of(ra, 'witnessed').length > 0, 10_000, 'cosignature');
    await until(() => ha.quiet(100) && hg.quiet(100), 10_000, 'quiet');
    expect(of(rg, 'witnessed')).toEqual([]);
    expect(await cosignaturesOn(t.ada, t.grace, t.ada.log.size)).toHaveLength(1);
    await ha.close();
    await hg.close();
  });

  it('a forked log (inconsistent with what was cosigned before) and a rolled-back one are refused, reported on both sides, never cosigned', async () => {
    const t = await makeTeam();
    const { ada, grace } = t;
    const k = await teamKey();
    // First sync: Grace cosigns Ada's genuine log at size 5.
    {
      const r = memoryRoom();
      const rg: SyncReport[] = [];
      const ra: SyncReport[] = [];
      const ha = await hub(ada, k, r.join(), ra);
      const hg = await hub(grace, k, r.join(), rg);
      await until(() => of(rg, 'cosigned').length > 0, 10_000, 'first cosignature');
      await until(() => ha.quiet(100) && hg.quiet(100));
      await ha.close();
      await hg.close();
    }
    const cosignedBefore = (await loadWitnessState(grace.storage, ada.ledger.id, ada.signer.publicKey))!;
    expect(cosignedBefore.size).toBe(5);

    // Ada's device now presents a log whose history differs: two early events swapped, one more event.
    await ada.ledger.append('generation', generationBody());
    const all = ada.ledger.events();
    const forked = await DeviceLog.load(new MemoryStorage());
    await forked.append([all[0], all[2], all[1], ...all.slice(3)]);
    {
      const r = memoryRoom();
      const ra: SyncReport[] = [];
      const rg: SyncReport[] = [];
      const ha = await hub(ada, k, r.join(), ra, { log: forked });
      const hg = await hub(grace, k, r.join(), rg);
      await until(() => codes(rg).includes('WITNESS_FORK'), 10_000, 'the fork refused');
      await until(() => codes(ra).includes('WITNESS_REFUSED'), 10_000, 'the refusal reported to the log');
      await until(() => ha.quiet(100) && hg.quiet(100));
      const refusal = rejected(rg).find((x) => x.code === 'WITNESS_FORK')!;
      expect(refusal.peer).toBe(ada.signer.publicKey);
      expect(refusal.message).toMatch(
        /not cosigned: Ada's checkpoint of size 6: .*not an extension of the checkpoint of size 5/
      );
      expect(refusal.message).toMatch(/kept under witness-refusals\//);
      expect(rejected(ra).find((x) => x.code === 'WITNESS_REFUSED')!.message).toMatch(
        /Grace refused to cosign this device's checkpoint of size 6: \[WITNESS_FORK\]/
      );
      // Never cosigned; the witness's state is what it was; both signed checkpoints are kept as evidence.
      expect(of(rg, 'cosigned').filter((c) => c.peer === ada.signer.publicKey)).toEqual([]);
      expect(parseNote((await forked.checkpointNote(6))!).signatures).toHaveLength(1);
      expect(await loadWitnessState(grace.storage, ada.ledger.id, ada.signer.publicKey)).toEqual(cosignedBefore);
      const kept = await grace.storage.loadRange(['witness-refusals']);
      expect(kept).toHaveLength(1);
      const evidence = JSON.parse(fromUtf8(kept[0].data));
      expect(evidence).toMatchObject({ code: 'WITNESS_FORK', previous: cosignedBefore.note });
      expect(evidence.offered).toContain('\n6\n');
      // The fork does not stop the documents from syncing, nor Grace's own log from being witnessed by Ada.
      expect(grace.ledger.size).toBe(ada.ledger.size);
      await ha.close();
      await hg.close();
    }

    // A log that dropped events (3 entries where 5 were cosigned): a rollback.
    const short = await DeviceLog.load(new MemoryStorage());
    await short.append(all.slice(0, 3));
    {
      const r = memoryRoom();
      const ra: SyncReport[] = [];
      const rg: SyncReport[] = [];
      const ha = await hub(ada, k, r.join(), ra, { log: short });
      const hg = await hub(grace, k, r.join(), rg);
      await until(
        () => codes(rg).includes('WITNESS_ROLLBACK') && codes(ra).includes('WITNESS_REFUSED'),
        10_000,
        'the rollback refused'
      );
      await until(() => ha.quiet(100) && hg.quiet(100));
      expect(rejected(rg).find((x) => x.code === 'WITNESS_ROLLBACK')!.message).toMatch(/shrank from 5 to 3 entries/);
      expect(parseNote((await short.checkpointNote(3))!).signatures).toHaveLength(1);
      expect(await loadWitnessState(grace.storage, ada.ledger.id, ada.signer.publicKey)).toEqual(cosignedBefore);
      await ha.close();
      await hg.close();
    }
  });
});

describe('hostile witness messages', () => {
  async function setup() {
    const t = await makeTeam();
    const k = await teamKey();
    const r = memoryRoom();
    const reports: SyncReport[] = [];
    const victim = t.ada;
    const hv = await hub(victim, k, r.join(), reports, { maxStrikes: 50 });
    const h = new Hostile(r.join(), t.grace.signer, k.key, k.room);
    await h.start();
    const snapshot = async () => ({
      size: victim.ledger.size,
      heads: A.getHeads(victim.ledger.doc).join(),
      log: victim.log.size,
      notes: await allNotes(victim.log),
      witness: (await victim.storage.listKeys(['witness'])).length,
      refusals: (await victim.storage.listKeys(['witness-refusals'])).length
    });
    return { t, victim, hv, h, reports, snapshot, before: await snapshot() };
  }
  const send = (h: Hostile, type: number, body: Uint8Array | string) =>
    h.sendMsg(concatBytes(new Uint8Array([type]), typeof body === 'string' ? utf8(body) : body));
  const waitCode = (reports: SyncReport[], code: string, n = 1) =>
    until(() => codes(reports).filter((c) => c === code).length >= n, 5000, code);
  /** Messages of one type the hostile peer received from the victim. */
  const received = (h: Hostile, type: number) =>
    h.inbox.filter((m) => m[0] === type).map((m) => JSON.parse(fromUtf8(m.subarray(1))));

  it('malformed, oversized, falsely signed and foreign requests are refused with a clear message; nothing is cosigned or stored', async () => {
    const s = await setup();
    const { t, h, reports } = s;
    const ledgerId = t.ada.ledger.id;

    await send(h, 4, '{"format": "provenance-ledger/witness-request/v1", "checkpoint": ');
    await waitCode(reports, 'WITNESS_REQUEST_INVALID');
    expect(rejected(reports).at(-1)!.message).toMatch(/invalid witness request: not UTF-8 JSON/);

    await send(h, 4, new Uint8Array(70_000).fill(0x20));
    await waitCode(reports, 'WITNESS_REQUEST_INVALID', 2);
    expect(rejected(reports).at(-1)!.message).toMatch(/a witness request of 70000 bytes \(limit 65536\)/);

    // Grace's genuine checkpoint with one signature byte changed.
    const note = await t.grace.log.checkpoint(ledgerId, t.grace.signer);
    const parsed = parseNote(note);
    const sig = parsed.signatures[0].signature.slice();
    sig[10] ^= 1;
    const forged = formatNote({ text: parsed.text, signatures: [{ ...parsed.signatures[0], signature: sig }] });
    const graceKey = await logVerifierKey(ledgerId, t.grace.signer.publicKey);
    await send(h, 4, JSON.stringify(makeWitnessRequest(forged, graceKey, new Map())));
    await waitCode(reports, 'CHECKPOINT_INVALID');
    expect(rejected(reports).at(-1)!.message).toMatch(/the checkpoint does not verify/);

    // Someone else's log (the victim's own) presented as the peer's.
    const adaNote = await t.ada.log.checkpoint(ledgerId, t.ada.signer);
    await send(h, 4, JSON.stringify(makeWitnessRequest(adaNote, graceKey, new Map())));
    await waitCode(reports, 'WITNESS_UNKNOWN_LOG');
    await send(
      h,
      4,
      JSON.stringify(makeWitnessRequest(note, await logVerifierKey(ledgerId, t.ada.signer.publicKey), new Map()))
    );
    await waitCode(reports, 'WITNESS_UNKNOWN_LOG', 2);
    expect(rejected(reports).at(-1)!.message).toMatch(/not the peer's own/);

    // (Not quiet: the victim's own request to this peer stays unanswered.)
    await until(() => received(h, 5).length >= 3, 5000, 'answers');
    await new Promise((r) => setTimeout(r, 200));
    // Refusals were answered (when the request named a checkpoint), never with a cosignature.
    const answers = received(h, 5);
    expect(answers.length).toBeGreaterThanOrEqual(3);
    for (const a of answers) {
      expect(a.format).toBe(WITNESS_RESPONSE_FORMAT);
      expect(a.cosigned).toBeUndefined();
    }
    expect(of(reports, 'cosigned')).toEqual([]);
    expect(await s.snapshot()).toEqual(s.before);
    await s.hv.close();
  });

  it('a peer that never answers a witness request is reported (not silently dropped); nothing is cosigned', async () => {
    const t = await makeTeam();
    const k = await teamKey();
    const r = memoryRoom();
    const reports: SyncReport[] = [];
    const hv = await hub(t.ada, k, r.join(), reports, { witnessTimeoutMs: 300 });
    const h = new Hostile(r.join(), t.grace.signer, k.key, k.room);
    await h.start();
    // The hostile peer reads the request and says nothing.
    await until(() => received(h, 4).length > 0, 5000, 'a witness request');
    await until(() => of(reports, 'witness-unanswered').length > 0, 5000, 'the unanswered report');
    expect(of(reports, 'witness-unanswered')[0]).toMatchObject({
      peer: t.grace.signer.publicKey,
      size: t.ada.log.size
    });
    expect(of(reports, 'witnessed')).toEqual([]);
    expect(await cosignaturesOn(t.ada, t.grace, t.ada.log.size)).toEqual([]);
    await hv.close();
    h.t.close();
  });

  it('unsolicited, malformed and falsely cosigned responses are refused; the checkpoint stays as it was', async () => {
    const s = await setup();
    const { t, h, reports } = s;
    const ledgerId = t.ada.ledger.id;
    // The victim asks the (hostile) peer to witness its log once sync has gone quiet.
    await until(() => received(h, 4).length > 0, 5000, 'a witness request from the victim');
    const req = received(h, 4)[0];
    expect(req.format).toBe('provenance-ledger/witness-request/v1');
    expect(req.logKey).toBe(await logVerifierKey(ledgerId, t.ada.signer.publicKey));
    const size = t.ada.log.size;

    await send(h, 5, JSON.stringify({ format: WITNESS_RESPONSE_FORMAT, size: 99, cosigned: req.checkpoint }));
    await waitCode(reports, 'PROTOCOL_VIOLATION');
    expect(rejected(reports).at(-1)!.message).toMatch(/size 99, which this device did not ask to be cosigned/);

    await send(h, 5, JSON.stringify({ format: WITNESS_RESPONSE_FORMAT, size, cosigned: req.checkpoint, extra: 1 }));
    await waitCode(reports, 'WITNESS_RESPONSE_INVALID');
    expect(rejected(reports).at(-1)!.message).toMatch(/unknown field "extra"/);
    await send(h, 5, new Uint8Array([0xff, 0xfe, 0x00]));
    await waitCode(reports, 'WITNESS_RESPONSE_INVALID', 2);
    expect(rejected(reports).at(-1)!.message).toMatch(/not UTF-8 JSON/);

    // A real cosignature by the peer's key with one byte changed.
    const real = await witnessCheckpoint({
      ledgerId,
      memberKeys: [t.ada.signer.publicKey],
      note: req.checkpoint,
      proof: [],
      signer: t.grace.signer
    });
    const p = parseNote(real.note);
    const last = p.signatures.at(-1)!;
    const bad = last.signature.slice();
    bad[20] ^= 1;
    const tampered = formatNote({
      text: p.text,
      signatures: [...p.signatures.slice(0, -1), { ...last, signature: bad }]
    });
    await send(h, 5, JSON.stringify({ format: WITNESS_RESPONSE_FORMAT, size, cosigned: tampered }));
    await waitCode(reports, 'WITNESS_RESPONSE_INVALID', 3);
    expect(rejected(reports).at(-1)!.message).toMatch(
      /the cosigned checkpoint of size \d+ is refused: it does not verify/
    );

    await new Promise((r) => setTimeout(r, 200));
    expect(of(reports, 'witnessed')).toEqual([]);
    expect(await cosignaturesOn(t.ada, t.grace, size)).toEqual([]);
    expect(await s.snapshot()).toEqual(s.before);
    await s.hv.close();
  });
});

/**
 * Receipt at sync by signed tree heads (ledger-schema/README.md section 19, "Signed tree heads at sync"): a
 * peer's own events that its checked checkpoint covers are accepted without a signature check of their own;
 * anything that does not match the head (a changed event, a head signed by another key, ids in another order,
 * a head that does not continue the one checked before) covers nothing, and the events are checked one by one,
 * so a tampered one is refused as before.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as A from '@automerge/automerge';
import { memoryRoom } from '../../../src/lib/core/sync/transport.ts';
import { SyncHub, type SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { newTeamKey, roomId } from '../../../src/lib/core/team/teamkey.ts';
import { PeerHeads } from '../../../src/lib/core/proofs/signed-head.ts';
import { decodeSig } from '../../../src/lib/core/journal/signatures.ts';
import { canonicalJson } from '../../../src/lib/core/canonical.ts';
import { toBase64url } from '../../../src/lib/core/bytes.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { generationBody } from '../helpers/ledger.ts';
import { makeTeam, type Team } from '../proofs/helpers.ts';
import { until } from './helpers.ts';

afterEach(() => vi.restoreAllMocks());

type Dev = Team['ada'];

/** Grace appends three events on her device; her log signs a checkpoint over its 8 leaves (Ada's 5, her 3). */
async function graceAhead() {
  const t = await makeTeam();
  const own = [];
  for (let i = 0; i < 3; i++)
    own.push(await t.grace.ledger.append('generation', generationBody({ project: 'Grace offline' })));
  await t.grace.log.settled();
  return { ...t, own };
}

/** What Grace's hub sends Ada: her checkpoint note and the ids of her log's leaves. */
async function headOf(d: Dev): Promise<{ note: string; ids: string[] }> {
  const note = await d.log.checkpoint(d.ledger.id, d.signer);
  return { note, ids: Array.from({ length: d.log.size }, (_, i) => d.log.eventIdAt(i)) };
}

/** Grace's changes that Ada lacks. */
const changesFor = (from: Dev, to: Dev) =>
  A.getChanges(to.ledger.doc as A.Doc<unknown>, from.ledger.doc as A.Doc<unknown>);

const flipSig = (sig: string) => toBase64url(decodeSig(sig)!.map((b, i) => (i === 5 ? b ^ 0x04 : b)));

async function countChecks<T>(fn: () => Promise<T>): Promise<{ result: T; checks: number }> {
  const spy = vi.spyOn(crypto.subtle, 'verify');
  try {
    return { result: await fn(), checks: spy.mock.calls.length };
  } finally {
    spy.mockRestore();
  }
}

describe('receipt under a peer signed tree head', () => {
  it("accepts the peer's own events it covers with one checkpoint signature; its journal signatures are still checked", async () => {
    const { ada, grace, own } = await graceAhead();
    const head = await headOf(grace);
    const heads = new PeerHeads(ada.ledger.id, grace.signer.publicKey);
    expect(heads.offer(0, head.ids, head.note)).toBe(true);
    const r = await countChecks(() => ada.ledger.applyVerifiedChanges(changesFor(grace, ada), { heads }));
    expect(r.result.rejected).toEqual([]);
    expect(new Set(r.result.accepted)).toEqual(new Set(own.map((e) => e.id)));
    expect(r.result.covered).toBe(3);
    expect(r.checks).toBe(1 + 3); // the checkpoint, and the three journal commit signatures (no event signature)
    expect(heads.size).toBe(8);
    expect((await ada.ledger.verify({ full: true })).ok).toBe(true);
    // Without a head the same receipt checks each event signature too.
    const t2 = await graceAhead();
    const plain = await countChecks(() => t2.ada.ledger.applyVerifiedChanges(changesFor(t2.grace, t2.ada)));
    expect(plain.result.covered).toBe(0);
    expect(plain.checks).toBe(6);
  });

  it('refuses a tampered event whatever head comes with it, as it does without one', async () => {
    const { ada, grace, own } = await graceAhead();
    const head = await headOf(grace);
    const victim = own[1].id;
    // Grace's three events as a peer's change would carry them, one with its signature changed (a hostile copy in between).
    const forgedDoc = A.change(A.clone(ada.ledger.doc as A.Doc<any>), (d: any) => {
      for (const e of own) {
        const json = grace.ledger.envelopeJson(e.id)!;
        const value =
          e.id === victim ? canonicalJson({ ...JSON.parse(json), sig: flipSig(JSON.parse(json).sig) }) : json;
        d.records.push(new A.ImmutableString(`${e.id} ${value}\n${e.id}.git ${grace.ledger.journalSignature(e.id)!}`));
      }
    });
    const changes = A.getChanges(ada.ledger.doc as A.Doc<unknown>, forgedDoc);
    const heads = new PeerHeads(ada.ledger.id, grace.signer.publicKey);
    heads.offer(0, head.ids, head.note);
    const withHead = await ada.ledger.applyVerifiedChanges(changes, { heads });
    expect(withHead.covered).toBe(0); // the head commits to other bytes: it covers nothing
    expect(withHead.accepted).toEqual([]);
    expect(withHead.problems.map((p) => [p.code, p.eventId])).toContainEqual(['SIGNATURE_INVALID', victim]);
    expect(ada.ledger.size).toBe(5);
    expect(heads.size).toBe(0);
  });

  it('a head that does not hold covers nothing: signed by another key, ids reordered, left out or unknown; the events are checked one by one', async () => {
    const swap = (ids: string[]) => [...ids.slice(0, 6), ids[7], ids[6]];
    const offers: Array<[string, (t: Team, g: { note: string; ids: string[] }) => Promise<[string[], string]>]> = [
      // Ada's key signs a checkpoint of her own log: it does not verify under Grace's log key (nor name her origin).
      [
        'signed by another key',
        async (t, g) => [g.ids, await (await DeviceLog.load(t.ada.storage)).checkpoint(t.ada.ledger.id, t.ada.signer)]
      ],
      ['ids reordered', async (_t, g) => [swap(g.ids), g.note]],
      ['ids left out', async (_t, g) => [g.ids.slice(0, 7), g.note]],
      ['an unknown event id', async (_t, g) => [[...g.ids.slice(0, 7), 'cd'.repeat(32)], g.note]]
    ];
    for (const [what, make] of offers) {
      const t = await graceAhead();
      const [ids, note] = await make(t, await headOf(t.grace));
      const h = new PeerHeads(t.ada.ledger.id, t.grace.signer.publicKey);
      h.offer(0, ids, note);
      const r = await countChecks(() => t.ada.ledger.applyVerifiedChanges(changesFor(t.grace, t.ada), { heads: h }));
      expect(r.result.covered, what).toBe(0);
      expect(r.result.accepted.length, `${what}: the events are still accepted, each checked by itself`).toBe(3);
      expect(r.checks, what).toBeGreaterThanOrEqual(6);
      expect(h.size, what).toBe(0);
    }
    // A head whose start is not where the checked one ended is not taken at all.
    const t = await graceAhead();
    const g = await headOf(t.grace);
    expect(new PeerHeads(t.ada.ledger.id, t.grace.signer.publicKey).offer(3, g.ids.slice(3), g.note)).toBe(false);
  });

  it('through two hubs: each device takes the other’s new events under its signed head, and both verify in full', async () => {
    const { ada, grace, own } = await graceAhead();
    const adaOwn = await ada.ledger.append('generation', generationBody({ project: 'Ada at the studio' }));
    await ada.log.settled();
    const key = newTeamKey(1);
    const room = await roomId(key);
    const r = memoryRoom();
    const ra: SyncReport[] = [];
    const rg: SyncReport[] = [];
    const start = (d: Dev, reports: SyncReport[]) =>
      SyncHub.start({
        ledger: d.ledger,
        storage: d.storage,
        signer: d.signer,
        team: key,
        room,
        transport: r.join(),
        onReport: (x) => reports.push(x),
        log: d.log,
        witnessDelayMs: 50,
        signedHeadMin: 1
      });
    const ha = await start(ada, ra);
    const hg = await start(grace, rg);
    await until(() => ada.ledger.size === 9 && grace.ledger.size === 9, 10_000, 'convergence');
    await until(() => ha.quiet(100) && hg.quiet(100), 10_000, 'quiet');
    const accepted = (rs: SyncReport[]) =>
      rs.filter((x) => x.type === 'accepted') as Array<Extract<SyncReport, { type: 'accepted' }>>;
    expect(rs(ra)).toEqual([]);
    expect(rs(rg)).toEqual([]);
    expect(
      accepted(ra)
        .flatMap((x) => x.events)
        .sort()
    ).toEqual(own.map((e) => e.id).sort());
    expect(accepted(ra).reduce((n, x) => n + (x.covered ?? 0), 0)).toBe(3);
    expect(accepted(rg).flatMap((x) => x.events)).toEqual([adaOwn.id]);
    expect(accepted(rg).reduce((n, x) => n + (x.covered ?? 0), 0)).toBe(1);
    for (const d of [ada, grace]) expect((await d.ledger.verify({ full: true })).ok).toBe(true);
    await ha.close();
    await hg.close();
  });
});

const rs = (reports: SyncReport[]) => reports.filter((r) => r.type === 'rejected');

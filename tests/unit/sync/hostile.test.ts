/**
 * A hostile peer that speaks the protocol: it holds the team key (and sometimes a member's device key) and
 * sends forged events, replayed, truncated and oversized frames, malformed Automerge bytes, or proves
 * membership with a removed key. Each is refused with its code, the victim's ledger is unchanged, and a
 * repeat offender is cut off.
 */
import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { concatBytes, utf8 } from '../../../src/lib/core/bytes.ts';
import { canonicalJson } from '../../../src/lib/core/canonical.ts';
import { signEvent } from '../../../src/lib/core/event.ts';
import { memoryRoom } from '../../../src/lib/core/sync/transport.ts';
import { MAX_FRAME } from '../../../src/lib/core/sync/frame.ts';
import { randomBytes } from '../../../src/lib/core/sync/crypto.ts';
import type { SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { defaultMemberId } from '../../../src/lib/core/ledger.ts';
import { generationBody } from '../helpers/ledger.ts';
import { hubFor, team, until, type Device } from './helpers.ts';
import { Hostile } from './hostile-peer.ts';
import { deleteEntry, pushRecord, setEntry } from '../helpers/doc-edit.ts';

async function setup(opts: { maxStrikes?: number } = {}) {
  const { devices, team: t, room } = await team(2);
  const [victim, member] = devices;
  const r = memoryRoom();
  const reports: SyncReport[] = [];
  const { SyncHub } = await import('../../../src/lib/core/sync/hub.ts');
  const hub = await SyncHub.start({
    ledger: victim.ledger,
    storage: victim.storage,
    signer: victim.signer,
    team: t,
    room,
    transport: r.join(),
    onReport: (x) => reports.push(x),
    maxStrikes: opts.maxStrikes
  });
  const snapshot = () => ({
    size: victim.ledger.size,
    heads: victim.ledger.heads().join(),
    am: A.getHeads(victim.ledger.doc).join()
  });
  return { victim, member, t, room, r, reports, hub, before: snapshot(), snapshot };
}

const codes = (rs: SyncReport[]) => rs.filter((x) => x.type === 'rejected').map((x) => (x as { code: string }).code);

/** A doc with the victim's history plus one change that puts `entries`. */
function docWith(victim: Device, entries: Array<[string, string]>) {
  let d = A.clone(victim.ledger.doc) as A.Doc<any>;
  d = A.change(d, (x: any) => {
    for (const e of entries) pushRecord(x, [e]);
  });
  return d;
}

/** Runs the Automerge sync protocol from `doc` against the victim through the hostile peer. */
async function pushDoc(h: Hostile, doc: A.Doc<any>) {
  let state = A.initSyncState();
  for (let round = 0; round < 6; round++) {
    for (const m of h.inbox.splice(0)) if (m[0] === 2) [doc, state] = A.receiveSyncMessage(doc, state, m.subarray(2));
    const [s2, msg] = A.generateSyncMessage(doc, state);
    state = s2;
    if (msg) await h.sync(msg);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a hostile peer', () => {
  it('a forged signature: the change is refused whole, reported, the ledger unchanged', async () => {
    const s = await setup();
    const h = new Hostile(s.r.join(), s.member.signer, s.t, s.room);
    await h.start();
    const good = await signEvent(
      {
        spec: 'provenance-ledger/event/v1',
        type: 'generation',
        ledger: s.victim.ledger.id,
        author: s.member.signer.publicKey,
        time: '2027-01-01T00:00:00.000Z',
        parents: s.victim.ledger.heads(),
        body: generationBody()
      } as any,
      s.member.signer
    );
    const forged = JSON.parse(new TextDecoder().decode(good.bytes));
    forged.event.body.project = 'Forged';
    const { eventId } = await import('../../../src/lib/core/event.ts');
    const fid = await eventId(forged.event);
    // One change with a valid event and a forged one: refused whole.
    await pushDoc(
      h,
      docWith(s.victim, [
        [good.id, new TextDecoder().decode(good.bytes)],
        [fid, canonicalJson(forged)]
      ])
    );
    await until(() => codes(s.reports).includes('SIGNATURE_INVALID'), 5000, 'refusal');
    expect(codes(s.reports)).toContain('CHANGE_INVALID');
    expect(s.snapshot()).toEqual(s.before);
    expect(s.victim.ledger.get(good.id)).toBeUndefined();
  });

  it('a change that deletes, overwrites or puts something other than an event is refused', async () => {
    const s = await setup();
    const h = new Hostile(s.r.join(), s.member.signer, s.t, s.room);
    await h.start();
    let d = A.clone(s.victim.ledger.doc) as A.Doc<any>;
    d = A.change(d, (x: any) => {
      deleteEntry(x, s.victim.ledger.id);
      setEntry(x, 'note', 'plain text');
      x.note = 'a root key';
    });
    await pushDoc(h, d);
    await until(() => codes(s.reports).includes('CHANGE_NOT_EVENT'), 5000, 'refusal');
    expect(s.snapshot()).toEqual(s.before);
    expect(s.victim.ledger.get(s.victim.ledger.id)).toBeDefined();
  });

  it('replayed, truncated, oversized frames are dropped and held against no one; malformed Automerge bytes count, and the offender is cut off', async () => {
    const s = await setup();
    const h = new Hostile(s.r.join(), s.member.signer, s.t, s.room);
    await h.start();
    h.t.send(h.sent[0]); // replay of the AUTH frame
    await until(() => codes(s.reports).includes('FRAME_REPLAYED'));
    const f = await h.frame(concatBytes(new Uint8Array([2, 0]), utf8('hello')));
    h.t.send(f.subarray(0, f.length - 5)); // truncated: does not authenticate
    await until(() => codes(s.reports).includes('FRAME_INVALID'));
    const big = new Uint8Array(MAX_FRAME + 1);
    big.set(f.subarray(0, 42));
    h.t.send(big); // oversized
    await until(() => codes(s.reports).includes('FRAME_TOO_LARGE'));
    // None of these authenticated: anyone could have sent them with this header. The session goes on.
    expect(s.reports.some((x) => x.type === 'disconnected')).toBe(false);
    expect(s.hub.peers().map((p) => p.peer)).toEqual([s.member.signer.publicKey]);
    h.seq = 1n;
    await h.sync(utf8('this is not automerge')); // malformed Automerge bytes, sealed under the session key
    await until(() => codes(s.reports).includes('SYNC_MESSAGE_MALFORMED'));
    await h.sync(randomBytes(200));
    await h.sync(randomBytes(200));
    await until(() => s.reports.some((x) => x.type === 'disconnected'), 5000, 'disconnect');
    const n = s.reports.length;
    await h.sync(randomBytes(200)); // ignored from now on
    await new Promise((r) => setTimeout(r, 100));
    expect(s.reports.length).toBe(n);
    expect(s.snapshot()).toEqual(s.before);
  });

  it("a removed member's key cannot prove membership; a non-member's neither", async () => {
    const s = await setup();
    const m = s.victim.ledger.member(s.member.signer.publicKey)!;
    await s.victim.ledger.append('member', {
      action: 'remove',
      member: { id: m.memberId, name: m.name, key: m.key, role: m.role }
    });
    const before = s.snapshot();
    const h = new Hostile(s.r.join(), s.member.signer, s.t, s.room);
    await h.start(300).catch(() => undefined);
    await until(() => codes(s.reports).includes('PEER_REMOVED'));
    const { newSigner } = await import('../helpers/ledger.ts');
    const stranger = new Hostile(s.r.join(), await newSigner(), s.t, s.room);
    await stranger.start(300).catch(() => undefined);
    await until(() => codes(s.reports).includes('PEER_NOT_MEMBER'));
    expect(s.snapshot()).toEqual(before);
    expect(s.hub.peers()).toEqual([]);
  });

  it('a peer without the team key cannot even greet', async () => {
    const s = await setup();
    const wrong = { epoch: 1, key: randomBytes(32), covers: [] };
    const h = new Hostile(s.r.join(), s.member.signer, wrong, s.room);
    await h.start(300).catch(() => undefined);
    await until(() => codes(s.reports).includes('FRAME_INVALID'));
    expect(s.hub.peers()).toEqual([]);
  });
});

void defaultMemberId;
void hubFor;

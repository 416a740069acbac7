/**
 * Sync ends when a peer holds a change this device refuses. The two documents can never converge, and Automerge
 * would offer the change again and again (two hubs exchanged over 1,000 frames a second, and `sync --once` never
 * ended). The peer is answered once after the refusal and its sync messages are ignored for the rest of the
 * session: the frames are counted, and `sync --once` ends with the refusal reported.
 */
import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { identitySigner, loadIdentity } from '../../../src/lib/adapters/node/identity.ts';
import { connectRelay } from '../../../src/lib/adapters/transport/websocket.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { initHash, sha256HexSync } from '../../../src/lib/core/hash.ts';
import { eventId, signEvent } from '../../../src/lib/core/event.ts';
import { canonicalJson } from '../../../src/lib/core/canonical.ts';
import { concatBytes, fromUtf8, utf8 } from '../../../src/lib/core/bytes.ts';
import type { Signer } from '../../../src/lib/core/keys.ts';
import { memoryRoom } from '../../../src/lib/core/sync/transport.ts';
import { connHex } from '../../../src/lib/core/sync/frame.ts';
import type { SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { loadTeamKeys, roomKey } from '../../../src/lib/core/team/teamkey.ts';
import { generationBody, steppingClock } from '../helpers/ledger.ts';
import { pushRecord } from '../helpers/doc-edit.ts';
import { hubFor, team, until } from './helpers.ts';
import { Hostile } from './hostile-peer.ts';
import { docs, useCliTeam } from './cli-team.ts';
import { BIN, run } from '../cli/helpers.ts';
import { spawn } from 'node:child_process';

/** `doc` plus one change holding an event by `signer` whose body was altered after signing (SIGNATURE_INVALID). */
async function withForgedEvent(
  doc: A.Doc<unknown>,
  ledgerId: string,
  parents: string[],
  signer: Signer
): Promise<A.Doc<unknown>> {
  const good = await signEvent(
    {
      spec: 'provenance-ledger/event/v1',
      type: 'generation',
      ledger: ledgerId,
      author: signer.publicKey,
      time: '2027-01-01T00:00:00.000Z',
      parents,
      body: generationBody()
    } as any,
    signer
  );
  const forged = JSON.parse(fromUtf8(good.bytes));
  forged.event.body.project = 'Forged';
  const id = await eventId(forged.event);
  return A.change(A.clone(doc), (x: any) => pushRecord(x, [[id, canonicalJson(forged)]]));
}

/** A sync message from `doc` to a peer holding `theirs`, from a fresh sync state: it carries every change the peer lacks. */
function offering(doc: A.Doc<unknown>, theirs: A.Doc<unknown>): Uint8Array {
  const [, hello] = A.generateSyncMessage(theirs, A.initSyncState());
  const [, state] = A.receiveSyncMessage(A.clone(doc), A.initSyncState(), hello!);
  return A.generateSyncMessage(doc, state)[1]!;
}

const rejectedCodes = (rs: SyncReport[]) =>
  rs.filter((x) => x.type === 'rejected').map((x) => (x as { code: string }).code);

describe('a change refused once is not offered forever', () => {
  it('two hubs, one holding a change the other refuses: one refusal, a bounded number of frames, both quiet', async () => {
    await initHash();
    const { devices, team: t, room } = await team(2);
    const [a, b] = devices;
    // B's stored document holds the forged change (a damaged device, or one that took it from elsewhere).
    const bad = await withForgedEvent(b.ledger.doc as A.Doc<unknown>, a.ledger.id, a.ledger.heads(), b.signer);
    const storage = new MemoryStorage();
    const bytes = A.save(bad);
    await storage.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
    const bl = await Ledger.open({
      storage,
      signer: b.signer,
      now: steppingClock(Date.parse('2027-01-02T00:00:00.000Z'))
    });
    const r = memoryRoom();
    const ra: SyncReport[] = [];
    const ha = await hubFor(a, t, room, r.join(), ra);
    const hb = await hubFor({ ledger: bl, storage, signer: b.signer }, t, room, r.join());
    await until(() => rejectedCodes(ra).includes('CHANGE_INVALID'), 10_000, 'the refusal');
    await until(() => ha.quiet(300) && hb.quiet(300), 20_000, 'both hubs quiet');
    const frames = r.frames.length;
    // The hubs stay quiet: nothing more is exchanged.
    await new Promise((res) => setTimeout(res, 500));
    expect(r.frames.length).toBe(frames);
    // Greetings, membership proofs, a few sync messages each way: tens of frames, not thousands.
    expect(frames).toBeLessThanOrEqual(20);
    expect(rejectedCodes(ra).filter((c) => c === 'CHANGE_INVALID')).toHaveLength(1);
    expect(a.ledger.size).toBe(2);
    await ha.close();
    await hb.close();
  });

  it('a hostile peer offering the refused change 50 times is answered once after the refusal, then ignored', async () => {
    const { devices, team: t, room } = await team(2);
    const [victim, member] = devices;
    const r = memoryRoom();
    const reports: SyncReport[] = [];
    const hub = await hubFor(victim, t, room, r.join(), reports);
    const h = new Hostile(r.join(), member.signer, t, room);
    await h.start();
    const doc = await withForgedEvent(
      victim.ledger.doc as A.Doc<unknown>,
      victim.ledger.id,
      victim.ledger.heads(),
      member.signer
    );
    const offer = () => offering(doc, victim.ledger.doc as A.Doc<unknown>);
    await h.sync(offer());
    await until(() => rejectedCodes(reports).includes('CHANGE_INVALID'), 10_000, 'the refusal');
    await until(() => hub.quiet(200), 10_000, 'the answer');
    const answered = h.inbox.length;
    for (let i = 0; i < 50; i++) await h.sync(offer());
    await until(() => hub.quiet(200), 10_000, 'the offers handled');
    expect(h.inbox.length - answered).toBe(0); // nothing more sent to it
    expect(rejectedCodes(reports).filter((c) => c === 'CHANGE_INVALID')).toHaveLength(1);
    expect(victim.ledger.size).toBe(2);
    // Frames from the victim to the hostile peer, in all: its greeting and proof, the answers before and after the refusal.
    expect(r.frames.filter((f) => connHex(f.subarray(2, 18)) === connHex(hub.conn)).length).toBeLessThanOrEqual(6);
    await hub.close();
  });
});

const cliTeam = useCliTeam('pl-refused-');

describe('sync --once against a peer that keeps offering a refused change', () => {
  it('ends with the refusal in its output and exit 1; the frames it sends stay few', async () => {
    const { dir, pl, startInvite, relayUrl } = cliTeam;
    expect((await run(['init', '--ledger', dir('a'), '--name', 'Ada', '--ledger-name', 'Studio'])).code).toBe(0);
    const inv = await startInvite('a');
    expect((await pl('b', 'join', inv.code, '--name', 'Bea')).code).toBe(0);
    await inv.done;
    // The hostile peer: Bea's device key and team key, and a document holding a forged event.
    const bs = await FsStorage.open(dir('b'));
    const bea = identitySigner((await loadIdentity(bs))!);
    const t = (await loadTeamKeys(bs))[0];
    const bl = await Ledger.open({ storage: bs });
    const doc = await withForgedEvent(bl.doc as A.Doc<unknown>, bl.id, bl.heads(), bea);
    const rk = await roomKey(t);

    // Ada's sync starts first, so that the hostile peer's greeting reaches it.
    const child = spawn(
      process.execPath,
      [BIN, 'sync', '--once', '--wait', '20', '--timeout', '60', '--json', '--ledger', dir('a'), '--relay', relayUrl()],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    const exited = new Promise<number | null>((res) => child.on('close', res));
    await until(() => out.includes('"syncing"'), 20_000, 'sync started');

    const h = new Hostile(await connectRelay(relayUrl(), rk), bea, t, rk.id);
    await h.start(10_000);
    let offers = 0;
    let got = 0;
    let stop = false;
    const pump = (async () => {
      // Every 20 ms: answer what Ada sent (witness requests refused at once), and offer the change again.
      while (!stop) {
        for (const m of h.inbox.splice(0)) {
          got++;
          if (m[0] === 4) {
            const size = Number(/\n(\d+)\n/.exec(JSON.parse(fromUtf8(m.subarray(1))).checkpoint)?.[1]);
            const refusal = {
              format: 'provenance-ledger/witness-response/v1',
              size,
              refused: { code: 'NOT_NOW', message: 'no' }
            };
            await h.sendMsg(concatBytes(Uint8Array.of(5), utf8(JSON.stringify(refusal))));
          }
        }
        await h.sync(offering(doc, bl.doc as A.Doc<unknown>));
        offers++;
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const code = await exited;
    stop = true;
    await pump;
    h.t.close();

    expect(code, out).toBe(1);
    const summary = docs(out).at(-1);
    expect(
      summary.rejected.map((x: { code: string }) => x.code),
      out
    ).toContain('CHANGE_INVALID');
    expect(summary.rejected.filter((x: { code: string }) => x.code === 'CHANGE_INVALID')).toHaveLength(1);
    expect(summary.timedOut, out).toBeUndefined(); // it went quiet: the --timeout was not needed
    expect(summary.events).toBe(2);
    expect(offers).toBeGreaterThan(5);
    // What Ada's device sent the hostile peer (every frame it got: proof, sync messages, a witness request).
    expect(got + h.inbox.length, out).toBeLessThanOrEqual(12);
  }, 120_000);
});

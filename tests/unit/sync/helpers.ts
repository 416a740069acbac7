/** Sync test helpers: a team of in-memory ledgers that share one genesis, and a hub per device. */
import * as A from '@automerge/automerge';
import { Ledger, defaultMemberId } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { sha256HexSync, initHash } from '../../../src/lib/core/hash.ts';
import type { Signer } from '../../../src/lib/core/keys.ts';
import { SyncHub, type SyncReport } from '../../../src/lib/core/sync/hub.ts';
import type { Transport } from '../../../src/lib/core/sync/transport.ts';
import { newTeamKey, roomId, type TeamKey } from '../../../src/lib/core/team/teamkey.ts';
import { newLedger, newSigner, steppingClock } from '../helpers/ledger.ts';

export interface Device {
  ledger: Ledger;
  storage: MemoryStorage;
  signer: Signer;
}

/** A copy of `from`'s document as a new device's ledger (what join does), opened with `signer`. */
export async function forkDevice(
  from: Ledger,
  signer: Signer,
  start = Date.parse('2026-11-01T09:00:00.000Z')
): Promise<Device> {
  await initHash();
  const storage = new MemoryStorage();
  const bytes = A.save(from.doc);
  await storage.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
  const ledger = await Ledger.open({ storage, signer, now: steppingClock(start) });
  return { ledger, storage, signer };
}

/** An owner and `n - 1` members, all holding the same roster; plus a team key. */
export async function team(n: number): Promise<{ devices: Device[]; team: TeamKey; room: string }> {
  const owner = await newLedger();
  const signers: Signer[] = [];
  for (let i = 1; i < n; i++) {
    const s = await newSigner();
    signers.push(s);
    await owner.ledger.append('member', {
      action: 'add',
      member: { id: defaultMemberId(s.publicKey), name: `Member ${i}`, key: s.publicKey, role: 'member' }
    });
  }
  const devices: Device[] = [{ ledger: owner.ledger, storage: owner.storage as MemoryStorage, signer: owner.signer }];
  for (const [i, s] of signers.entries())
    devices.push(await forkDevice(owner.ledger, s, Date.parse('2026-11-01T10:00:00.000Z') + i * 3600_000));
  const t = newTeamKey(1);
  return { devices, team: t, room: await roomId(t) };
}

export async function hubFor(
  d: Device,
  t: TeamKey,
  room: string,
  transport: Transport,
  reports: SyncReport[] = []
): Promise<SyncHub> {
  return SyncHub.start({
    ledger: d.ledger,
    storage: d.storage,
    signer: d.signer,
    team: t,
    room,
    transport,
    onReport: (r) => reports.push(r)
  });
}

/** Waits until `cond` holds (polling), or fails after `ms`. */
export async function until(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

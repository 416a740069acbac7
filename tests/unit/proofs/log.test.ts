/** The device log: persisted, incremental, never missing or doubling an event, proofs that verify after reload. */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { toHex } from '../../../src/lib/core/bytes.ts';
import type { LedgerEvent } from '../../../src/lib/core/event.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { createTreeHasher } from '../../../src/lib/core/merkle/hash.ts';
import { verifyConsistency, verifyInclusion } from '../../../src/lib/core/merkle/proof.ts';
import { MerkleTree } from '../../../src/lib/core/merkle/tree.ts';
import { CHUNK, DeviceLog, leafData } from '../../../src/lib/core/proofs/log.ts';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { copyDoc, makeTeam } from './helpers.ts';

function fakeEvents(n: number, from = 0): LedgerEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: (from + i).toString(16).padStart(64, '0'),
    event: { n: from + i },
    sig: 'x'
  })) as unknown as LedgerEvent[];
}

describe('device log', () => {
  it('logs every event once: events before attach are reconciled, appends and receives are observed', async () => {
    const { ledger, storage, signer } = await newLedger();
    await ledger.append('generation', generationBody());
    await ledger.append('generation', generationBody());
    const log = await DeviceLog.attach(ledger, storage, { signer });
    expect(log.size).toBe(3);
    expect([0, 1, 2].map((i) => log.eventIdAt(i))).toEqual(ledger.events().map((e) => e.id));
    const a = await ledger.append('generation', generationBody());
    await log.settled();
    expect(log.size).toBe(4);
    expect(log.indexOf(a.id)).toBe(3);
    // A checkpoint follows each batch of appends.
    expect(await log.checkpointSizes()).toEqual([3, 4]);
    // Reopening appends nothing twice.
    log.detach();
    const again = await DeviceLog.attach(await Ledger.open({ storage, signer }), storage);
    expect(again.size).toBe(4);
    expect(again.root()).toEqual(log.root());
    // Received events are logged too.
    const other = await Ledger.open({ storage: await copyDoc(storage as MemoryStorage), signer });
    const b = await other.append('generation', generationBody());
    const reopened = await Ledger.open({ storage, signer });
    const log2 = await DeviceLog.attach(reopened, storage);
    const bytes = new TextDecoder().decode(leafData(b));
    await reopened.receive([[b.id, bytes]]);
    await log2.settled();
    expect(log2.size).toBe(5);
    expect(log2.indexOf(b.id)).toBe(4);
    expect(await DeviceLog.verifyStorage(storage, reopened, signer.publicKey)).toEqual([]);
  });

  it('spans chunks, reloads without rehashing events, and proves inclusion and consistency', async () => {
    const storage = new MemoryStorage();
    const log = await DeviceLog.load(storage);
    const events = fakeEvents(2 * CHUNK + 300);
    await log.append(events.slice(0, 1000));
    await log.append(events.slice(1000));
    await log.append(events.slice(5, 10)); // already logged: nothing appended
    expect(log.size).toBe(events.length);
    expect((await storage.listKeys(['log', 'leaves'])).map((k) => k[2])).toEqual(['00000000', '00000001', '00000002']);
    const hasher = await createTreeHasher();
    const reference = new MerkleTree(hasher);
    for (const e of events) reference.appendData(leafData(e));
    const loaded = await DeviceLog.load(storage);
    expect(toHex(loaded.root())).toBe(toHex(reference.root()));
    for (const i of [0, 1, 1023, 1024, 2047, 2300, events.length - 1]) {
      verifyInclusion(
        hasher,
        i,
        loaded.size,
        hasher.hashLeaf(leafData(events[i])),
        loaded.inclusionProof(i),
        loaded.root()
      );
    }
    verifyConsistency(hasher, 1000, loaded.size, loaded.consistencyProof(1000), reference.rootAt(1000), loaded.root());
    expect(loaded.inclusionProof(5).length).toBeLessThanOrEqual(12);
  });

  it('after a crash between writing leaves and the state, ignores the extra leaves and catches up', async () => {
    const { ledger, storage, signer } = await newLedger();
    const log = await DeviceLog.attach(ledger, storage, { signer });
    const state = await storage.load(['log', 'state']);
    await ledger.append('generation', generationBody());
    await log.settled();
    await storage.save(['log', 'state'], state!); // the state write "never happened"
    log.detach();
    const reopened = await DeviceLog.attach(await Ledger.open({ storage, signer }), storage);
    expect(reopened.size).toBe(2);
    expect(await DeviceLog.verifyStorage(storage, ledger, signer.publicKey)).toEqual([]);
  });

  it('reports a leaf that is not its event, and a log missing an event', async () => {
    const t = await makeTeam();
    const chunk = (await t.ada.storage.load(['log', 'leaves', '00000000']))!;
    chunk[64 + 40] ^= 1; // leaf 1's hash
    await t.ada.storage.save(['log', 'leaves', '00000000'], chunk);
    const problems = await DeviceLog.verifyStorage(t.ada.storage, t.ada.ledger, t.ada.signer.publicKey);
    expect(problems).toContainEqual(
      expect.objectContaining({ code: 'LOG_MISMATCH', location: 'log/leaves/00000000 entry 1 (leaf 1)' })
    );
  });
});

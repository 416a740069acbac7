/**
 * The device log's crash order and its recovery at open (src/lib/core/proofs/log.ts): leaves are stored before the
 * state, which is the commit point; every prefix of an append's writes opens to a log that a writer brings back in
 * step with the ledger, in the same order; what an older writer (state and leaves written at once, the state often
 * first) could leave (a state ahead of its leaves, no state beside leaves) is recovered by attach, not reported
 * as LOG_CORRUPT for ever.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import type { StorageChunk, StorageKey } from '../../../src/lib/core/storage.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { ProofCode } from '../../../src/lib/core/proofs/errors.ts';
import { generationBody, newLedger } from '../helpers/ledger.ts';

/** Memory storage that records each write, and can stop (throw) after a number of them: a process killed there. */
class Recording extends MemoryStorage {
  writes: string[] = [];
  budget = Infinity;
  override async save(key: StorageKey, data: Uint8Array): Promise<void> {
    if (this.budget-- <= 0) throw new Error(`killed before ${key.join('/')}`);
    this.writes.push(key.join('/'));
    return super.save(key, data);
  }
  override async saveMany(writes: StorageChunk[], removals: StorageKey[] = []): Promise<void> {
    // One write at a time, as a directory on disk does them: each may be the last.
    for (const w of writes) await this.save(w.key, w.data);
    for (const k of removals) await this.remove(k);
  }
}

const ids = (log: DeviceLog) => Array.from({ length: log.size }, (_, i) => log.eventIdAt(i));

describe('device log crash order', () => {
  it('writes the leaves before the state, never both at once', async () => {
    const storage = new Recording();
    const { ledger, signer } = await newLedger(storage);
    const log = await DeviceLog.attach(ledger, storage, { signer });
    storage.writes = [];
    await ledger.append('generation', generationBody());
    await log.settled();
    const logWrites = storage.writes.filter((w) => w.startsWith('log/'));
    expect(logWrites).toEqual(['log/leaves/00000000', 'log/state', 'log/checkpoints/0000000000000002']);
  });

  it('a kill at every write of an append: the next attach gives the same log, in the same order, as a clean run', async () => {
    // The clean run.
    const clean = new Recording();
    const { ledger, signer } = await newLedger(clean);
    await ledger.append('generation', generationBody());
    const first = await DeviceLog.attach(ledger, clean, { signer });
    first.detach();
    const snapshot = new Map((await clean.loadRange([])).map((c) => [c.key.join('/'), c.data]));
    const ev = await ledger.append('generation', generationBody());
    const whole = await DeviceLog.attach(ledger, clean, { signer });
    const want = { ids: ids(whole), root: whole.root() };
    expect(want.ids.at(-1)).toBe(ev.id);
    whole.detach();

    let kills = 0;
    for (let budget = 0; ; budget++) {
      const storage = new Recording();
      for (const [k, v] of snapshot) await storage.save(k.split('/'), v);
      storage.budget = budget;
      const log = await DeviceLog.load(storage);
      const cut = await log.append([ev]).then(
        () => false,
        (e: Error) => /killed before/.test(e.message)
      );
      if (!cut) break; // the append's writes all went through: every earlier stop was tried
      kills++;
      storage.budget = Infinity;
      // Read-only, the log is still the one before the append (the state is the commit point).
      expect((await DeviceLog.load(storage)).size).toBe(2);
      const again = await DeviceLog.attach(ledger, storage, { signer });
      expect(ids(again), `after a kill at write ${budget}`).toEqual(want.ids);
      expect(again.root()).toEqual(want.root);
      expect(await DeviceLog.verifyStorage(storage, ledger, signer.publicKey)).toEqual([]);
    }
    expect(kills).toBe(2); // before the leaves, before the state
  });

  it('a state ahead of its leaves (an older writer, killed between them) is rolled back, persisted, and caught up', async () => {
    const storage = new MemoryStorage();
    const { ledger, signer } = await newLedger(storage);
    await ledger.append('generation', generationBody());
    await ledger.append('generation', generationBody());
    const log = await DeviceLog.attach(ledger, storage, { signer });
    const want = { ids: ids(log), root: log.root() };
    log.detach();
    // "The state says 3, the leaves hold 2."
    const chunk = (await storage.load(['log', 'leaves', '00000000']))!;
    await storage.save(['log', 'leaves', '00000000'], chunk.slice(0, 2 * 64));
    await expect(DeviceLog.load(storage)).rejects.toMatchObject({ code: ProofCode.LOG_CORRUPT });
    const loaded = await DeviceLog.load(storage, { recover: true });
    expect(loaded.size).toBe(2);
    expect(loaded.recovered).toMatch(/rolled back/);
    const again = await DeviceLog.attach(ledger, storage, { signer });
    expect(ids(again)).toEqual(want.ids);
    expect(again.root()).toEqual(want.root);
    expect((await DeviceLog.load(storage)).size).toBe(3); // persisted
    expect(await DeviceLog.verifyStorage(storage, ledger, signer.publicKey)).toEqual([]);
  });

  it('no state beside complete leaves: the head is recomputed from them, keeping their order', async () => {
    const storage = new MemoryStorage();
    const { ledger, signer } = await newLedger(storage);
    await ledger.append('generation', generationBody());
    const log = await DeviceLog.attach(ledger, storage, { signer });
    const want = { ids: ids(log), root: log.root() };
    log.detach();
    await storage.remove(['log', 'state']);
    expect((await DeviceLog.load(storage)).size).toBe(0); // read-only: the state is the commit point
    const again = await DeviceLog.attach(ledger, storage, { signer });
    expect(ids(again)).toEqual(want.ids);
    expect(again.root()).toEqual(want.root);
    expect(await storage.load(['log', 'state'])).toBeDefined();
    expect(await DeviceLog.verifyStorage(storage, ledger, signer.publicKey)).toEqual([]);
  });

  it('entries past the state (leaves written, state not) are ignored, then written over by the next append', async () => {
    const storage = new MemoryStorage();
    const { ledger, signer } = await newLedger(storage);
    const log = await DeviceLog.attach(ledger, storage, { signer });
    log.detach();
    const chunk = (await storage.load(['log', 'leaves', '00000000']))!;
    const stray = new Uint8Array(chunk.length + 64).fill(7);
    stray.set(chunk);
    await storage.save(['log', 'leaves', '00000000'], stray);
    expect((await DeviceLog.load(storage)).size).toBe(1);
    const ev = await ledger.append('generation', generationBody());
    const again = await DeviceLog.attach(ledger, storage, { signer });
    expect(again.size).toBe(2);
    expect(again.eventIdAt(1)).toBe(ev.id);
    expect(await DeviceLog.verifyStorage(storage, ledger, signer.publicKey)).toEqual([]);
  });
});

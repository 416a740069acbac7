import { describe, expect, it } from 'vitest';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { buildBundle } from '../../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { describeFacts } from '../../../src/lib/core/proofs/report.ts';
import { witnessCheckpoint } from '../../../src/lib/core/proofs/witness.ts';
import { makeTeam, MODEL_SHA } from './helpers.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generationBody, newSigner, steppingClock } from '../helpers/ledger.ts';

describe('evidence bundle', () => {
  it('proves a file end to end: built from a witnessed log, verified offline, nothing else revealed', async () => {
    const t = await makeTeam();
    const note = await t.ada.log.checkpoint(t.ada.ledger.id, t.ada.signer);
    const w = await witnessCheckpoint({
      ledgerId: t.grace.ledger.id,
      memberKeys: t.grace.ledger
        .roster()
        .filter((m) => m.active)
        .map((m) => m.key),
      note,
      proof: [],
      signer: t.grace.signer,
      now: () => 1_800_000_000
    });
    await t.ada.log.addCosignatures(w.note);
    const { bytes, bundle } = await buildBundle({
      ledger: t.ada.ledger,
      log: t.ada.log,
      logPublicKey: t.ada.signer.publicKey,
      subject: { sha256: MODEL_SHA, name: 'model.glb' },
      openings: [t.opening]
    });
    expect(bundle.events).toHaveLength(4); // genesis, Grace added, generation, export
    const res = await verifyBundle(bytes, [{ name: 'model.glb', sha256: MODEL_SHA }]);
    expect(res.failures).toEqual([]);
    const words = describeFacts(res.facts!).join('\n');
    console.log(words);
    expect(words).toContain('model.glb (sha256 ' + MODEL_SHA + ') was recorded as output of a generation on Tripo');
    expect(words).toContain('witnessed by Grace');
    expect(words).toContain('the prompt was revealed and matches');
    expect(new TextDecoder().decode(bytes)).not.toContain('robot-');
  });

  it('reloads the log from storage and gives the same proofs', async () => {
    const t = await makeTeam();
    const again = await DeviceLog.load(t.ada.storage);
    expect(again.size).toBe(t.ada.log.size);
    expect(again.root()).toEqual(t.ada.log.root());
    expect(again.inclusionProof(2)).toEqual(t.ada.log.inclusionProof(2));
    expect(await DeviceLog.verifyStorage(t.ada.storage, t.ada.ledger, t.ada.signer.publicKey)).toEqual([]);
  });
  it('a witness invited after the asset was recorded: its member events come along and the bundle verifies as witnessed', async () => {
    const ada = await newSigner();
    const grace = await newSigner();
    const storage = new MemoryStorage();
    const ledger = await Ledger.create({
      storage,
      signer: ada,
      memberName: 'Ada',
      ledgerName: 'Solo',
      memberId: 'ada',
      now: steppingClock()
    });
    const log = await DeviceLog.attach(ledger, storage, { signer: ada });
    const gen = await ledger.append('generation', generationBody());
    const add = await ledger.append('member', {
      action: 'add',
      member: { id: 'grace', name: 'Grace', key: grace.publicKey, role: 'member' }
    });
    await ledger.append('generation', generationBody()); // not revealed
    await log.settled();
    const note = await log.checkpoint(ledger.id, ada);
    const w = await witnessCheckpoint({
      ledgerId: ledger.id,
      memberKeys: [ada.publicKey],
      note,
      proof: [],
      signer: grace,
      now: () => 1_800_000_000
    });
    await log.addCosignatures(w.note);
    const { bytes, bundle } = await buildBundle({
      ledger,
      log,
      logPublicKey: ada.publicKey,
      subject: { event: gen.id }
    });
    expect(bundle.events.map((e) => JSON.parse(e.envelope).event.type).sort()).toEqual([
      'generation',
      'member',
      'member'
    ]); // genesis, the generation, Grace's add
    const ids = await Promise.all(
      bundle.events.map(async (e) =>
        (await import('../../../src/lib/core/event.ts')).eventId(JSON.parse(e.envelope).event)
      )
    );
    expect(ids).toContain(add.id);
    const res = await verifyBundle(bytes);
    expect(res.failures).toEqual([]);
    expect(res.facts!.cosignatures.map((c) => c.member)).toEqual(['Grace']);
  });
});

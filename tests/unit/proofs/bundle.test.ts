import { describe, expect, it } from 'vitest';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { buildBundle } from '../../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { describeFacts } from '../../../src/lib/core/proofs/report.ts';
import { witnessCheckpoint } from '../../../src/lib/core/proofs/witness.ts';
import { makeTeam, MODEL_SHA } from './helpers.ts';

describe('evidence bundle', () => {
  it('proves a file end to end: built from a witnessed log, verified offline, nothing else revealed', async () => {
    const t = await makeTeam();
    const note = await t.ada.log.checkpoint(t.ada.ledger.id, t.ada.signer);
    const w = await witnessCheckpoint({
      ledgerId: t.grace.ledger.id,
      memberKeys: t.grace.ledger.roster().filter((m) => m.active).map((m) => m.key),
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
});

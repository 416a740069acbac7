/** One witnessed team and its evidence bundle about model.glb, shared by the bad-input, fuzz and tamper tests. */
import { buildBundle } from '../../../src/lib/core/proofs/bundle-build.ts';
import { witnessCheckpoint } from '../../../src/lib/core/proofs/witness.ts';
import { makeTeam, MODEL_SHA, type Team } from './helpers.ts';

export interface BundleFixture {
  team: Team;
  bytes: Uint8Array;
  cosignedNote: string;
}

export async function witnessedBundle(): Promise<BundleFixture> {
  const team = await makeTeam();
  const note = await team.ada.log.checkpoint(team.ada.ledger.id, team.ada.signer);
  const w = await witnessCheckpoint({
    ledgerId: team.grace.ledger.id,
    memberKeys: team.grace.ledger.roster().map((m) => m.key),
    note,
    proof: [],
    signer: team.grace.signer,
    now: () => 1_800_000_000
  });
  await team.ada.log.addCosignatures(w.note);
  const { bytes } = await buildBundle({
    ledger: team.ada.ledger,
    log: team.ada.log,
    logPublicKey: team.ada.signer.publicKey,
    subject: { sha256: MODEL_SHA, name: 'model.glb' },
    openings: [team.opening]
  });
  return { team, bytes, cosignedNote: w.note };
}

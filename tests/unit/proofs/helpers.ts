/**
 * A two-device team for the proofs tests: Ada owns the ledger, Grace is a member on her own device (a copy of
 * the ledger document, her own log). Deterministic clocks; keys are fresh unless given.
 */
import { Ledger } from '../../../src/lib/core/ledger.ts';
import type { Signer } from '../../../src/lib/core/keys.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { commitPrompt, type Opening } from '../../../src/lib/core/commitment.ts';
import { generationBody, newSigner, steppingClock } from '../helpers/ledger.ts';

export const MODEL_SHA = 'a1'.repeat(32);

export async function copyDoc(from: MemoryStorage): Promise<MemoryStorage> {
  const to = new MemoryStorage();
  for (const c of await from.loadRange(['doc'])) await to.save(c.key, c.data);
  return to;
}

export interface Team {
  ada: { ledger: Ledger; storage: MemoryStorage; signer: Signer; log: DeviceLog };
  grace: { ledger: Ledger; storage: MemoryStorage; signer: Signer; log: DeviceLog };
  opening: Opening;
  generationId: string;
}

/** Ada creates the ledger, adds Grace, records a generation of model.glb and an export; Grace copies it. */
export async function makeTeam(opts: { ada?: Signer; grace?: Signer; salt?: Uint8Array } = {}): Promise<Team> {
  const adaSigner = opts.ada ?? (await newSigner());
  const graceSigner = opts.grace ?? (await newSigner());
  const storage = new MemoryStorage();
  const now = steppingClock();
  const ledger = await Ledger.create({
    storage,
    signer: adaSigner,
    memberName: 'Ada',
    ledgerName: 'Studio',
    memberId: 'ada',
    now
  });
  const log = await DeviceLog.attach(ledger, storage, { signer: adaSigner });
  await ledger.append('member', {
    action: 'add',
    member: { id: 'grace', name: 'Grace', key: graceSigner.publicKey, role: 'member' }
  });
  const { commitment, opening } = await commitPrompt(
    'brass robot mascot, low poly',
    (n) => opts.salt ?? new Uint8Array(n).fill(7)
  );
  const gen = await ledger.append(
    'generation',
    generationBody({
      prompt: commitment,
      outputs: [{ name: 'model.glb', format: 'glb', size: 4096, sha256: MODEL_SHA }]
    })
  );
  await ledger.append('export', {
    generation: gen.id,
    files: [{ name: 'model.glb', format: 'glb', size: 4096, sha256: MODEL_SHA }],
    destination: { label: 'Studio NAS', kind: 'nas', encrypted: true }
  });
  await ledger.append('generation', generationBody()); // an unrelated event: must not be revealed
  await log.settled();
  const gStorage = await copyDoc(storage);
  const gLedger = await Ledger.open({
    storage: gStorage,
    signer: graceSigner,
    now: steppingClock(Date.parse('2026-11-02T09:00:00.000Z'))
  });
  const gLog = await DeviceLog.attach(gLedger, gStorage, { signer: graceSigner });
  return {
    ada: { ledger, storage, signer: adaSigner, log },
    grace: { ledger: gLedger, storage: gStorage, signer: graceSigner, log: gLog },
    opening,
    generationId: gen.id
  };
}

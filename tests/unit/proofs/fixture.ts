/**
 * A small deterministic two-device team on disk, for the CLI tests and for ledger-schema/examples/bundle:
 * fixed keys (Ed25519 seeds 0x01.. and 0x02..), a fixed clock, a fixed prompt salt. Ada owns ledger "Studio" and
 * adds Grace; Ada records a policy snapshot, a checklist, a generation of model.glb, its export, a derivation and an
 * unrelated generation. Grace's directory holds the same ledger document with her own key and log.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { saveIdentity } from '../../../src/lib/adapters/node/identity.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { importPrivateKey, signerFromCryptoKey, type DeviceKey } from '../../../src/lib/core/keys.ts';
import { commitPrompt } from '../../../src/lib/core/commitment.ts';
import { PromptVault } from '../../../src/lib/core/vault.ts';
import { concatBytes, fromHex } from '../../../src/lib/core/bytes.ts';

export const PROMPT = 'brass robot mascot for Café Lumière, low poly, PBR textures';
export const MODEL = { name: 'model.glb', bytes: new TextEncoder().encode('glTF model bytes of the brass robot\n') };

export async function fixedKey(byte: number): Promise<DeviceKey> {
  const pkcs8 = concatBytes(fromHex('302e020100300506032b657004220420'), new Uint8Array(32).fill(byte));
  return importPrivateKey(pkcs8, true);
}

export function fixedClock(start: string): () => Date {
  let t = Date.parse(start);
  return () => new Date((t += 60_000));
}

const hex = (s: string) =>
  Array.from(new Uint8Array(s.length), (_, i) => s.charCodeAt(i) % 16)
    .map((n) => n.toString(16))
    .join('');

export async function makeDiskTeam(root: string, modelSha256: string) {
  const adaDir = path.join(root, 'ada');
  const graceDir = path.join(root, 'grace');
  await mkdir(adaDir, { recursive: true });
  await mkdir(graceDir, { recursive: true });
  const adaKey = await fixedKey(1);
  const graceKey = await fixedKey(2);
  const adaStorage = await FsStorage.open(adaDir);
  await saveIdentity(adaStorage, adaKey, 'Ada');
  const ada = signerFromCryptoKey(adaKey.privateKey, adaKey.publicKey);
  const ledger = await Ledger.create({
    storage: adaStorage,
    signer: ada,
    memberName: 'Ada',
    memberId: 'ada',
    ledgerName: 'Studio',
    now: fixedClock('2026-11-02T09:00:00.000Z')
  });
  await ledger.append('member', {
    action: 'add',
    member: { id: 'grace', name: 'Grace', key: graceKey.publicKey, role: 'member' }
  });
  const policy = await ledger.append('policy-snapshot', {
    platform: { name: 'Tripo', url: 'https://www.tripo3d.ai' },
    kind: 'terms-of-service',
    retrievedAt: '2026-11-02T08:30:00.000Z',
    text: { sha256: 'c0'.repeat(32), size: 18000, mediaType: 'text/html' },
    answers: {
      trainingOnInputs: { answer: 'no' },
      trainingOnOutputs: { answer: 'no' },
      optOutAvailable: { answer: 'yes' },
      retentionAfterDeletion: { answer: 'yes', days: 30 },
      thirdPartySharing: { answer: 'unclear' },
      internalAccess: { answer: 'not-stated' }
    }
  });
  const checklist = await ledger.append('checklist', {
    project: 'Café Lumière',
    classification: 'client',
    platform: { name: 'Tripo' },
    policySnapshots: [policy.id],
    items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
  });
  const { commitment, opening } = await commitPrompt(PROMPT, (n) => Uint8Array.from({ length: n }, (_, i) => i));
  await new PromptVault(adaStorage).put(opening);
  const model = { name: MODEL.name, format: 'glb', size: MODEL.bytes.length, sha256: modelSha256 };
  const gen = await ledger.append('generation', {
    platform: { name: 'Tripo', modelVersion: 'v2.5' },
    mode: 'text-to-3d',
    prompt: commitment,
    inputs: [],
    outputs: [model],
    settings: { trainingOptOut: true, privacyMode: true },
    project: 'Café Lumière',
    classification: 'client',
    checklist: checklist.id,
    policySnapshots: [policy.id]
  });
  await ledger.append('export', {
    generation: gen.id,
    files: [model],
    destination: { label: 'Studio NAS', kind: 'nas', encrypted: true }
  });
  await ledger.append('generation', {
    platform: { name: 'Meshy' },
    mode: 'text-to-3d',
    inputs: [],
    outputs: [{ name: 'secret-project.glb', format: 'glb', size: 99, sha256: hex('secret').padEnd(64, '0') }],
    settings: { trainingOptOut: false, privacyMode: false },
    project: 'Unrelated secret project',
    classification: 'confidential',
    policySnapshots: []
  });
  // Grace's device: the same ledger document, her own key.
  const graceStorage = await FsStorage.open(graceDir);
  for (const c of await adaStorage.loadRange(['doc'])) await graceStorage.save(c.key, c.data);
  await saveIdentity(graceStorage, graceKey, 'Grace');
  return {
    adaDir,
    graceDir,
    ledgerId: ledger.id,
    generationId: gen.id,
    ada,
    grace: signerFromCryptoKey(graceKey.privateKey, graceKey.publicKey)
  };
}

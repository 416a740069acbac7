/** Test helpers: a fresh ledger over any storage, with a device key and a clock that moves forward. */
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { generateDeviceKey, signerFromCryptoKey, type Signer } from '../../../src/lib/core/keys.ts';
import type { StorageAdapter } from '../../../src/lib/core/storage.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';

export async function newSigner(): Promise<Signer> {
  const k = await generateDeviceKey(false);
  return signerFromCryptoKey(k.privateKey, k.publicKey);
}

export function steppingClock(start = Date.parse('2026-11-01T09:00:00.000Z'), stepMs = 1000): () => Date {
  let t = start;
  return () => new Date((t += stepMs));
}

export async function newLedger(storage: StorageAdapter = new MemoryStorage(), signer?: Signer) {
  signer ??= await newSigner();
  const now = steppingClock();
  const ledger = await Ledger.create({ storage, signer, memberName: 'Ada', ledgerName: 'Studio', now });
  return { ledger, storage, signer, now };
}

let n = 0;
/** A valid generation body whose output hashes are unique per call. */
export function generationBody(over: Record<string, unknown> = {}) {
  n++;
  const hex = (i: number) => (n * 1000 + i).toString(16).padStart(64, '0');
  return {
    platform: { name: 'Tripo', modelVersion: 'v2.5' },
    mode: 'text-to-3d',
    prompt: { alg: 'sha256-salt32-utf8-v1', commitment: hex(0) },
    inputs: [],
    outputs: [{ name: `robot-${n}.glb`, format: 'glb', size: 1024 + n, sha256: hex(1) }],
    settings: { trainingOptOut: true, privacyMode: true },
    project: 'Brass Robots',
    classification: 'client',
    policySnapshots: [],
    ...over
  };
}

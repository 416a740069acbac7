/**
 * Benchmark hooks for the proofs layer (issue 5). tests/bench/bench.ts calls these; each returns one figure under
 * its `--json` key. Run alone: `node tests/bench/proofs.ts` prints all four as JSON.
 *
 *   proof_bytes_1m     bytes of an inclusion proof in a 1,000,000-entry log (target <= 1024)
 *   proof_verify_ms    median time to verify one such proof (target < 5 ms)
 *   tree_head_1m_ms    time to hash 1,000,000 leaves and build the tree head (frontier), best of 2 (target < 3000)
 *   verify_bundle_ms   median time of verify-bundle's check of a 20-event bundle (target < 100 ms)
 */
import '@automerge/automerge';
import { randomFillSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { MemoryStorage } from '../../src/lib/adapters/storage/memory.ts';
import { Ledger } from '../../src/lib/core/ledger.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../src/lib/core/keys.ts';
import { createTreeHasher } from '../../src/lib/core/merkle/hash.ts';
import { verifyInclusion } from '../../src/lib/core/merkle/proof.ts';
import { MemoryHashStore, MerkleTree } from '../../src/lib/core/merkle/tree.ts';
import { DeviceLog } from '../../src/lib/core/proofs/log.ts';
import { buildBundle } from '../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle } from '../../src/lib/core/proofs/bundle-verify.ts';
import { witnessCheckpoint } from '../../src/lib/core/proofs/witness.ts';

const M = 1_000_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let million: { tree: MerkleTree; leaves: Uint8Array } | undefined;

/** Builds (once) a 1,000,000-leaf tree from 1,000,000 distinct 64-byte leaf data, keeping every node for proofs. */
async function millionTree() {
  if (!million) {
    const hasher = await createTreeHasher();
    const data = new Uint8Array(64);
    const leaves = new Uint8Array(M * 32);
    const tree = new MerkleTree(hasher, new MemoryHashStore());
    const view = new DataView(data.buffer);
    for (let i = 0; i < M; i++) {
      view.setUint32(0, i);
      const leaf = hasher.hashLeaf(data);
      leaves.set(leaf, i * 32);
      tree.append(leaf);
    }
    tree.root();
    million = { tree, leaves };
  }
  return million;
}

/**
 * The tree head over 1,000,000 leaves as the device log keeps it: each leaf hashed from its data, appended to the
 * frontier, the root folded (the interior nodes for proofs are a separate, later build). Best of `runs`.
 */
export async function treeHead1mMs(runs = 2): Promise<number> {
  const hasher = await createTreeHasher();
  const data = new Uint8Array(64);
  const view = new DataView(data.buffer);
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const tree = new MerkleTree(hasher, null);
    for (let i = 0; i < M; i++) {
      view.setUint32(0, i);
      tree.append(hasher.hashLeaf(data));
    }
    tree.root();
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round(best);
}

export async function proofBytes1m(): Promise<number> {
  const { tree } = await millionTree();
  let max = 0;
  for (const i of [0, 1, 123_456, 524_287, 524_288, 999_998, M - 1])
    max = Math.max(max, tree.inclusionProof(i).length * 32);
  return max;
}

export async function proofVerifyMs(runs = 200): Promise<number> {
  const { tree, leaves } = await millionTree();
  const hasher = await createTreeHasher();
  const root = tree.root();
  const times: number[] = [];
  const pick = new Uint32Array(runs);
  randomFillSync(pick);
  for (let r = 0; r < runs; r++) {
    const i = pick[r] % M;
    const proof = tree.inclusionProof(i);
    const leaf = leaves.subarray(i * 32, i * 32 + 32);
    const t0 = performance.now();
    verifyInclusion(hasher, i, M, leaf, proof, root);
    times.push(performance.now() - t0);
  }
  return Number(median(times).toFixed(3));
}

/** A witnessed 20-event bundle: genesis, a member added, a generation and 17 exports of its model. */
export async function twentyEventBundle(): Promise<Uint8Array> {
  const k1 = await generateDeviceKey(false);
  const k2 = await generateDeviceKey(false);
  const ada = signerFromCryptoKey(k1.privateKey, k1.publicKey);
  const grace = signerFromCryptoKey(k2.privateKey, k2.publicKey);
  const storage = new MemoryStorage();
  const ledger = await Ledger.create({ storage, signer: ada, memberName: 'Ada', ledgerName: 'Bench' });
  const log = await DeviceLog.attach(ledger, storage);
  await ledger.append('member', {
    action: 'add',
    member: { id: 'grace', name: 'Grace', key: grace.publicKey, role: 'member' }
  });
  const model = { name: 'model.glb', format: 'glb', size: 1000, sha256: 'ab'.repeat(32) };
  const gen = await ledger.append('generation', {
    platform: { name: 'Tripo' },
    mode: 'text-to-3d',
    prompt: { alg: 'sha256-salt32-utf8-v1', commitment: 'cd'.repeat(32) },
    inputs: [],
    outputs: [model],
    settings: { trainingOptOut: true, privacyMode: true },
    project: 'Bench',
    classification: 'client',
    policySnapshots: []
  });
  for (let i = 0; i < 17; i++) {
    await ledger.append('export', {
      generation: gen.id,
      files: [model],
      destination: { label: `Drive ${i}`, kind: 'backup', encrypted: true }
    });
  }
  await log.settled();
  const note = await log.checkpoint(ledger.id, ada);
  const w = await witnessCheckpoint({
    ledgerId: ledger.id,
    memberKeys: ledger.roster().map((m) => m.key),
    note,
    proof: [],
    signer: grace
  });
  await log.addCosignatures(w.note);
  const { bytes, bundle } = await buildBundle({
    ledger,
    log,
    logPublicKey: ada.publicKey,
    subject: { sha256: model.sha256, name: 'model.glb' }
  });
  if (bundle.events.length !== 20) throw new Error(`expected 20 events, got ${bundle.events.length}`);
  return bytes;
}

export async function verifyBundleMs(runs = 30): Promise<number> {
  const bytes = await twentyEventBundle();
  const times: number[] = [];
  for (let r = 0; r < runs + 3; r++) {
    const t0 = performance.now();
    const res = await verifyBundle(bytes, [{ name: 'model.glb', sha256: 'ab'.repeat(32) }]);
    const dt = performance.now() - t0;
    if (!res.ok) throw new Error(`the bench bundle does not verify: ${JSON.stringify(res.failures)}`);
    if (r >= 3) times.push(dt); // the first runs warm up WebCrypto's key imports and the JIT
  }
  return Number(median(times).toFixed(2));
}

/** All four figures, keyed as in `npm run bench -- --json`. */
export async function proofBenchmarks(): Promise<
  Record<'proof_bytes_1m' | 'proof_verify_ms' | 'tree_head_1m_ms' | 'verify_bundle_ms', number>
> {
  const tree_head_1m_ms = await treeHead1mMs();
  return {
    proof_bytes_1m: await proofBytes1m(),
    proof_verify_ms: await proofVerifyMs(),
    tree_head_1m_ms,
    verify_bundle_ms: await verifyBundleMs()
  };
}

export const PROOF_TARGETS = {
  proof_bytes_1m: 1024,
  proof_verify_ms: 5,
  tree_head_1m_ms: 3000,
  verify_bundle_ms: 100
} as const;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await proofBenchmarks(), null, 2));
}

/**
 * Writes ledger-schema/examples/bundle/: a real evidence bundle produced by the CLI from the small deterministic
 * ledger of fixture.ts, and the intermediate values an independent verifier can check itself against.
 *
 *   node tests/unit/proofs/make-example.ts      (rewrites the directory; the output is byte-for-byte reproducible)
 */
import '@automerge/automerge';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { toBase64, toHex, utf8 } from '../../../src/lib/core/bytes.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { witnessCheckpoint } from '../../../src/lib/core/proofs/witness.ts';
import { createTreeHasher } from '../../../src/lib/core/merkle/hash.ts';
import { parseNote } from '../../../src/lib/core/merkle/note.ts';
import { makeDiskTeam, MODEL } from './fixture.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const OUT = path.join(ROOT, 'ledger-schema/examples/bundle');
export const WITNESS_TIME = 1_796_205_600; // 2026-12-02T10:00:00Z

const work = mkdtempSync(path.join(tmpdir(), 'pl-example-'));
try {
  const modelSha = createHash('sha256').update(MODEL.bytes).digest('hex');
  writeFileSync(path.join(work, MODEL.name), MODEL.bytes);
  const team = await makeDiskTeam(work, modelSha);
  const cli = (...args: string[]) =>
    execFileSync(process.execPath, [path.join(ROOT, 'bin/provenance-ledger.js'), ...args], {
      cwd: work,
      encoding: 'utf8'
    });
  cli('checkpoint', '--ledger', team.adaDir);
  // Grace witnesses Ada's log at a fixed time (the CLI's witness stamps the clock; the core takes it as an argument).
  const adaStorage = await FsStorage.open(team.adaDir);
  const adaLog = await DeviceLog.load(adaStorage);
  const note = (await adaLog.checkpointNote(adaLog.size))!;
  const grace = await Ledger.open({ storage: await FsStorage.open(team.graceDir) });
  const w = await witnessCheckpoint({
    ledgerId: team.ledgerId,
    memberKeys: grace.roster().map((m) => m.key),
    note,
    proof: [],
    signer: team.grace,
    now: () => WITNESS_TIME
  });
  await adaLog.addCosignatures(w.note);
  cli('prove', MODEL.name, '--ledger', team.adaDir, '--reveal-prompt', '--out', 'bundle.json');

  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const bundleBytes = readFileSync(path.join(work, 'bundle.json'));
  writeFileSync(path.join(OUT, 'bundle.json'), bundleBytes);
  writeFileSync(path.join(OUT, MODEL.name), MODEL.bytes);
  const bundle = JSON.parse(bundleBytes.toString('utf8'));
  writeFileSync(path.join(OUT, 'checkpoint.txt'), bundle.checkpoint);
  writeFileSync(path.join(OUT, 'report.txt'), bundle.report);

  // Intermediate values, recomputed here step by step.
  const hasher = await createTreeHasher();
  const parsed = parseNote(bundle.checkpoint);
  const [origin, size, rootB64] = parsed.text.trimEnd().split('\n');
  const steps = bundle.events.map((e: { envelope: string; leaf: number; proof: string[] }) => {
    const env = JSON.parse(e.envelope);
    const data = utf8(e.envelope);
    let h = hasher.hashLeaf(data);
    const chain = [toHex(h)];
    // RFC 9162 2.1.3.2, written out: fn = leaf index, sn = size - 1.
    let fn = e.leaf;
    let sn = Number(size) - 1;
    for (const p of e.proof.map((x) => Buffer.from(x, 'base64'))) {
      if (sn === 0) throw new Error('proof too long');
      if (fn % 2 === 1 || fn === sn) {
        h = hasher.hashChildren(p, h);
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      } else h = hasher.hashChildren(h, p);
      fn >>= 1;
      sn >>= 1;
      chain.push(toHex(h));
    }
    return {
      id: createHash('sha256').update(canonicalOf(e.envelope)).digest('hex'),
      type: env.event.type,
      leafIndex: e.leaf,
      leafDataBytes: data.length,
      leafHash: toHex(hasher.hashLeaf(data)),
      proofHex: e.proof.map((x) => Buffer.from(x, 'base64').toString('hex')),
      chain,
      computedRoot: toBase64(h)
    };
  });
  const intermediate = {
    howMade:
      'node tests/unit/proofs/make-example.ts (keys from seeds 0x01 x32 (Ada) and 0x02 x32 (Grace), fixed clock, prompt salt 0x00..0x1f)',
    ledgerId: bundle.ledger,
    model: { file: MODEL.name, sha256: modelSha, size: MODEL.bytes.length },
    checkpoint: {
      origin,
      size: Number(size),
      rootBase64: rootB64,
      rootHex: Buffer.from(rootB64, 'base64').toString('hex'),
      signatureLines: parsed.signatures.map((s) => ({ name: s.name, keyIdHex: s.keyId.toString(16).padStart(8, '0') }))
    },
    logKey: bundle.logKey,
    witnessKeys: bundle.witnessKeys,
    witnessTime: WITNESS_TIME,
    cosignedMessageHex: Buffer.concat([
      Buffer.from(`cosignature/v1\ntime ${WITNESS_TIME}\n`),
      Buffer.from(parsed.text)
    ]).toString('hex'),
    events: steps
  };
  writeFileSync(path.join(OUT, 'intermediate.json'), JSON.stringify(intermediate, null, 2) + '\n');
  console.log(`wrote ${OUT}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** The canonical bytes of the unsigned event inside an envelope: JCS(envelope.event) (sorted keys, as stored). */
function canonicalOf(envelope: string): string {
  // The envelope is JCS, so its "event" member is already canonical: cut it out byte for byte.
  const start = envelope.indexOf('{"event":') + '{"event":'.length;
  const end = envelope.lastIndexOf(',"sig":');
  return envelope.slice(start, end);
}

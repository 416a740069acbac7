/**
 * Makes a time-stamped evidence bundle in Node with the real core and a real RFC 3161 TSA (tests/helpers/tsa.ts:
 * stock openssl, its own root CA made now), for the offline verifier's e2e test. Writes into <out>:
 *   bundle.json       Ada's bundle for model.glb (sha256 a1…a1), its checkpoint cosigned by Grace and time-stamped
 *   root.pem          the TSA's root certificate (the token is trusted with it)
 *   other-root.pem    an unrelated root (the token is then untrusted: the bundle stays valid, with a notice)
 * and prints {"genTime", "tsa"} (the token's time and the TSA's name) as JSON.
 *
 *   node tests/e2e/support/timestamped-bundle.ts --out <dir>
 */
import '@automerge/automerge';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildBundle } from '../../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { witnessCheckpoint } from '../../../src/lib/core/proofs/witness.ts';
import { TimestampStore } from '../../../src/lib/core/timestamp/store.ts';
import { timestampCheckpoint } from '../../../src/lib/core/timestamp/stamp.ts';
import { makeOtherRootPem, startTestTsa } from '../../helpers/tsa.ts';
import { makeTeam, MODEL_SHA } from '../../unit/proofs/helpers.ts';

const at = process.argv.indexOf('--out');
const out = at >= 0 ? process.argv[at + 1] : undefined;
if (!out) throw new Error('usage: timestamped-bundle.ts --out <dir>');

const tsa = await startTestTsa();
try {
  const team = await makeTeam();
  const { ledger, log, signer } = team.ada;
  const note = await log.checkpoint(ledger.id, signer);
  const w = await witnessCheckpoint({
    ledgerId: ledger.id,
    memberKeys: ledger.roster().map((m) => m.key),
    note,
    proof: [],
    signer: team.grace.signer,
    now: () => Math.floor(Date.now() / 1000)
  });
  await log.addCosignatures(w.note);
  const store = new TimestampStore(team.ada.storage);
  const stamped = await timestampCheckpoint({ log, store, tsas: [tsa.url] });
  if (!stamped.every((r) => r.ok)) throw new Error('the test TSA did not time-stamp the checkpoint');
  const { bytes } = await buildBundle({
    ledger,
    log,
    logPublicKey: signer.publicKey,
    subject: { sha256: MODEL_SHA, name: 'model.glb' },
    timestamps: store
  });
  const check = await verifyBundle(bytes, [], { tsaRoots: [tsa.rootDer] });
  const t = check.facts?.timestamps[0];
  if (!check.ok || t?.verdict.status !== 'trusted')
    throw new Error(`the time-stamped bundle does not verify: ${JSON.stringify(check.failures)}`);
  writeFileSync(path.join(out, 'bundle.json'), bytes);
  writeFileSync(path.join(out, 'root.pem'), tsa.rootPem);
  writeFileSync(path.join(out, 'other-root.pem'), await makeOtherRootPem());
  process.stdout.write(JSON.stringify({ genTime: t.verdict.info.genTime, tsa: t.verdict.info.tsa }) + '\n');
} finally {
  await tsa.close();
}

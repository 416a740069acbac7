/**
 * Makes a ledger in Node with the real core, for the e2e tests and the UI benchmark to import through the
 * app's Settings page (the dedicated test path: no 10,000 form submissions). Writes:
 *   <out>/ledger.jsonl      the ledger export (src/lib/engine/transfer.ts format)
 *   <out>/key-backup.json   the owner's key, encrypted with the passphrase (cheap Argon2id for tests)
 *
 *   <out>/chunks.json       with --chunks: the raw storage chunks (key → base64), to write straight into the
 *                           browser's IndexedDB; with --tamper one more chunk adds an event whose body was
 *                           altered after signing (so the whole-ledger verify has a problem to find)
 *
 *   node tests/e2e/support/seed-ledger.ts --out <dir> [--events N] [--passphrase P] [--output file]... [--chunks [--tamper]]
 *
 * Every --output file is hashed and recorded as the outputs of the first generation (a .gltf, its .bin and
 * .png share a set). --events N adds generations until the ledger holds N events.
 */
import '@automerge/automerge';
import * as A from '@automerge/automerge/slim';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { exportPrivateKey, generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { encryptKeyBackup } from '../../../src/lib/core/backup.ts';
import { encodeLedger } from '../../../src/lib/engine/transfer.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const all = (name: string) => args.flatMap((a, i) => (a === name ? [args[i + 1]] : []));

const out = opt('--out') ?? 'seed-out';
const total = Number(opt('--events') ?? '0');
const passphrase = opt('--passphrase') ?? 'correct horse battery';
const outputs = all('--output');

const key = await generateDeviceKey(true);
const signer = signerFromCryptoKey(key.privateKey, key.publicKey);
const storage = new MemoryStorage();
let t = Date.parse('2026-03-01T09:00:00.000Z');
const now = () => new Date((t += 1000));
const ledger = await Ledger.create({ storage, signer, memberName: 'Ada Artist', ledgerName: 'Studio Nord', now });

const ext = (n: string) => path.extname(n).slice(1).toLowerCase();
const gltf = outputs.find((f) => ext(f) === 'gltf');
const refs = outputs.map((f) => {
  const bytes = readFileSync(f);
  const name = path.basename(f);
  const e = ext(f);
  const inSet = gltf && ['gltf', 'bin', 'png', 'jpg'].includes(e) ? { set: path.basename(gltf) } : {};
  const role = e === 'bin' ? 'buffer' : e === 'png' || e === 'jpg' ? 'texture' : 'model';
  return {
    name,
    format: e,
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    role,
    ...inSet
  };
});

const gen = (i: number, files: typeof refs) => ({
  platform: { name: ['Tripo', 'Meshy', 'Rodin', 'Luma Genie'][i % 4], modelVersion: `v${(i % 3) + 1}.0` },
  mode: 'text-to-3d',
  inputs: [],
  outputs: files,
  settings: { trainingOptOut: i % 2 === 0, privacyMode: true },
  project: ['Harbor', 'Atlas', 'Nimbus'][i % 3],
  classification: ['public', 'personal', 'confidential', 'client'][i % 4],
  policySnapshots: []
});

if (refs.length) await ledger.append('generation', gen(0, refs));
const pending: Promise<unknown>[] = [];
for (let i = ledger.size; i < total; i++) {
  const sha = createHash('sha256').update(`asset ${i}`).digest('hex');
  pending.push(
    ledger.append(
      'generation',
      gen(i, [{ name: `asset-${i}.glb`, format: 'glb', size: 1000 + i, sha256: sha, role: 'model' }])
    )
  );
  if (pending.length >= 500) await Promise.all(pending.splice(0));
}
await Promise.all(pending);
await ledger.flushed();

mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, 'ledger.jsonl'), encodeLedger(ledger));
const pkcs8 = await exportPrivateKey(key.privateKey);
const backup = await encryptKeyBackup(pkcs8, key.publicKey, 'Ada Artist', passphrase, {
  iterations: 1,
  memoryKiB: 1024,
  parallelism: 1
});
writeFileSync(path.join(out, 'key-backup.json'), JSON.stringify(backup, null, 2));
let tampered: string | undefined;
if (args.includes('--chunks')) {
  if (args.includes('--tamper')) {
    const doc = ledger.doc;
    const heads = A.getHeads(doc);
    const gen = ledger.events().find((e) => e.event.type === 'generation')!;
    const json = ledger.envelopeJson(gen.id)!.replace('"project":"', '"project":"Altered ');
    tampered = createHash('sha256').update('tampered event').digest('hex');
    // A record inserted by a forger with write access to the stored document: an altered copy under a new id.
    const next = A.change(doc, (d) => {
      d.records!.push(new A.ImmutableString(`${tampered} ${json}`));
    });
    const bytes = A.saveSince(next, heads);
    await storage.save(['doc', 'incr', createHash('sha256').update(bytes).digest('hex')], bytes);
  }
  const chunks = await storage.loadRange(['doc']);
  writeFileSync(
    path.join(out, 'chunks.json'),
    JSON.stringify(chunks.map((c) => [c.key.join('/'), Buffer.from(c.data).toString('base64')]))
  );
}
console.log(JSON.stringify({ tampered, events: ledger.size, ledgerId: ledger.id, outputs: refs }));

/**
 * The worked example of ledger-schema/README.md section 17 (ledger-schema/examples/bundle/): a valid evidence
 * bundle, the file it is about, and the report a verifier states; plus copies made wrong on purpose.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './app.ts';

const dir = path.join(ROOT, 'ledger-schema/examples/bundle');

export const example = {
  bundlePath: path.join(dir, 'bundle.json'),
  filePath: path.join(dir, 'model.glb'),
  bundleText: readFileSync(path.join(dir, 'bundle.json'), 'utf8'),
  file: readFileSync(path.join(dir, 'model.glb')),
  sha256: createHash('sha256')
    .update(readFileSync(path.join(dir, 'model.glb')))
    .digest('hex'),
  /** What the verifier states about it, one line each (report.txt, made by the same core), as the page shows each
   * line: an item's "- " is its bullet, a continued line's indent its place. */
  reportLines: readFileSync(path.join(dir, 'report.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => l.replace(/^\s*-\s+/, '').trim())
};

/** The statement that a file given is the one the bundle names. */
export const namesFile = (name: string, sha256: string) =>
  new RegExp(
    `${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} hashes to sha256 ${sha256}, (the|a) file the bundle names\\.`
  );

/** The bundle with one character of its first inclusion-proof hash changed: still JSON, no longer valid. */
export function tamperedBundle(): string {
  const b = JSON.parse(example.bundleText);
  const i = b.events.findIndex((e: { proof: string[] }) => e.proof.length > 0);
  if (i < 0) throw new Error('the example bundle has no inclusion proof to change');
  const p = b.events[i].proof[0] as string;
  b.events[i].proof[0] = (p[0] === 'A' ? 'B' : 'A') + p.slice(1);
  return JSON.stringify(b);
}

/** A file the bundle does not name. */
export const stranger = {
  name: 'not-the-model <b>bold</b>.glb',
  buffer: Buffer.from('some other model, not the one the bundle is about\n')
};
export const strangerSha256 = createHash('sha256').update(stranger.buffer).digest('hex');

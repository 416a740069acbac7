/**
 * The damage campaign's shared parts (tests/unit/core/damage.test.ts, tests/unit/cli/damage.test.ts): a small
 * ledger directory with every kind of stored file, built by the CLI run in this process (main() with captured
 * streams: the same code as bin/provenance-ledger.js, without a Node start per command), and the three kinds of
 * damage done to one file.
 */
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../../src/cli/main.ts';
import { Output } from '../../../src/cli/output.ts';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { generateDeviceKey } from '../../../src/lib/core/keys.ts';
import { identitySigner, loadIdentity } from '../../../src/lib/adapters/node/identity.ts';

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
  json: () => any;
}

/** Runs the CLI in this process: `args` as after `provenance-ledger`. */
export async function pl(...args: string[]): Promise<InProcessResult> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, done) {
        add(String(chunk));
        done();
      }
    });
  const out = new Output({ stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) });
  const code = await main(['node', 'provenance-ledger', ...args], out);
  return {
    code,
    stdout,
    stderr,
    json: () => {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
      }
    }
  };
}

export type DamageOp = 'flip' | 'truncate' | 'delete';
export const OPS: DamageOp[] = ['flip', 'truncate', 'delete'];

/** Flips one bit of the middle byte, cuts the file to half its length, or removes it (a folder: all of it). */
export async function damage(file: string, op: DamageOp): Promise<void> {
  if (op === 'delete') return rm(file, { recursive: true, force: false });
  const b = await readFile(file);
  if (op === 'flip') b[b.length >> 1] ^= 0x01;
  await writeFile(file, op === 'flip' ? b : b.subarray(0, b.length >> 1));
}

/** The same damage to a value in a storage adapter (the core tests work on a MemoryStorage). */
export function damageBytes(b: Uint8Array, op: Exclude<DamageOp, 'delete'>): Uint8Array {
  const c = new Uint8Array(b);
  if (op === 'flip') {
    c[c.length >> 1] ^= 0x01;
    return c;
  }
  return c.slice(0, c.length >> 1);
}

export interface DamageLedger {
  /** The ledger directory. */
  dir: string;
  /** The folder with the input files (robot.glb, the policy texts). */
  files: string;
  /** Relative paths (from dir) of one file of each class. */
  targets: Record<string, string>;
  model: string;
  generationId: string;
  headSize: number;
}

const say = async (r: Promise<InProcessResult>, what: string) => {
  const x = await r;
  if (x.code !== 0) throw new Error(`${what}: exit ${x.code}\n${x.stdout}\n${x.stderr}`);
  return x;
};

/**
 * A ledger with an event of every type (a member added besides the genesis), two policy snapshots (texts kept),
 * a generation with a prompt (vault), and its newest checkpoint time-stamped by `tsaUrl`. Returns where one file of
 * each class is.
 */
export async function buildDamageLedger(root: string, tsaUrl: string): Promise<DamageLedger> {
  const dir = path.join(root, 'ledger');
  const files = path.join(root, 'files');
  await rm(root, { recursive: true, force: true });
  const f = (n: string) => path.join(files, n);
  await mkdir(files, { recursive: true });
  await writeFile(
    f('policy.txt'),
    'Tripo privacy policy\n\n1. We keep your uploads for 30 days.\n2. We do not train on them.\n'
  );
  await writeFile(f('ref.png'), 'reference image bytes\n');
  await writeFile(f('robot.glb'), 'glTF of the brass robot\n');
  await writeFile(f('robot-retopo.fbx'), 'FBX of the brass robot, retopologised\n');
  await writeFile(f('deleted.eml'), 'Subject: your data was deleted\n\nDone.\n');
  const L = ['--ledger', dir];
  await say(pl('init', ...L, '--name', 'Ada', '--ledger-name', 'Damage Studio'), 'init');
  // A member event besides the genesis: a viewer added through the core (the CLI adds members through a relay).
  {
    const storage = await FsStorage.open(dir);
    const identity = (await loadIdentity(storage))!;
    const ledger = await Ledger.open({ storage, signer: identitySigner(identity) });
    const other = await generateDeviceKey(false);
    await ledger.append('member', {
      action: 'add',
      member: { id: 'viewer01', name: 'Vic', key: other.publicKey, role: 'viewer' }
    });
    await ledger.flushed();
  }
  await say(
    pl('record', 'policy', ...L, '--platform', 'Tripo', '--kind', 'privacy-policy', '--text-file', f('policy.txt')),
    'policy'
  );
  await say(
    pl(
      'record',
      'checklist',
      ...L,
      '--project',
      'Robots',
      '--classification',
      'client',
      '--classified',
      '--platform',
      'Tripo'
    ),
    'checklist'
  );
  const gen = await say(
    pl(
      'record',
      'generation',
      ...L,
      '--json',
      '--platform',
      'Tripo',
      '--prompt',
      'a small brass robot, low poly',
      '--input',
      f('ref.png'),
      '--output',
      f('robot.glb'),
      '--project',
      'Robots',
      '--classification',
      'client'
    ),
    'generation'
  );
  const generationId = gen.json().event.id as string;
  await say(
    pl(
      'record',
      'export',
      ...L,
      '--file',
      f('robot.glb'),
      '--destination',
      'Vault SSD',
      '--destination-kind',
      'encrypted-drive',
      '--encrypted'
    ),
    'export'
  );
  await say(
    pl(
      'record',
      'derivation',
      ...L,
      '--from',
      f('robot.glb'),
      '--output',
      f('robot-retopo.fbx'),
      '--tool',
      'Blender',
      '--operation',
      'retopology'
    ),
    'derivation'
  );
  await say(pl('record', 'handoff', ...L, '--file', f('robot-retopo.fbx'), '--recipient', 'Client Co'), 'handoff');
  await say(
    pl(
      'record',
      'deletion',
      ...L,
      '--platform',
      'Tripo',
      '--status',
      'confirmed',
      '--generation',
      generationId,
      '--evidence',
      f('deleted.eml')
    ),
    'deletion'
  );
  await writeFile(
    f('policy-v2.txt'),
    'Tripo privacy policy\n\n1. We keep your uploads for 90 days.\n2. We do not train on them.\n'
  );
  await say(
    pl('record', 'policy', ...L, '--platform', 'Tripo', '--kind', 'privacy-policy', '--text-file', f('policy-v2.txt')),
    'policy v2'
  );
  const cp1 = await say(pl('checkpoint', ...L, '--json', '--tsa', tsaUrl), 'checkpoint --tsa');
  const headSize = cp1.json().size as number;
  const v = await pl('verify', ...L, '--json');
  if (v.code !== 0) throw new Error(`the fixture does not verify:\n${v.stdout}`);

  const size16 = String(headSize).padStart(16, '0');
  const policyV1 = (await import('node:crypto'))
    .createHash('sha256')
    .update(await readFile(f('policy.txt')))
    .digest('hex');
  const vault = (await readdir(path.join(dir, 'vault')))[0];
  // The newest document chunk, and the loose object of the journal's newest commit.
  const incr = path.join(dir, 'doc', 'incr');
  const chunks = await Promise.all(
    (await readdir(incr)).map(async (n) => ({ n, t: (await stat(path.join(incr, n))).mtimeMs }))
  );
  const newest = chunks.sort((a, b) => a.t - b.t).at(-1)!.n;
  const head = (await readFile(path.join(dir, 'journal.git', 'refs', 'heads', 'main'), 'utf8')).trim();
  const targets: Record<string, string> = {
    'document chunk': `doc/incr/${newest}`,
    'journal object': `journal.git/objects/${head.slice(0, 2)}/${head.slice(2)}`,
    'journal ref': 'journal.git/refs/heads/main',
    'log leaves': 'log/leaves/00000000+',
    'log state': 'log/state+',
    checkpoint: `log/checkpoints/${size16}+`,
    'time-stamp file': `log/timestamps/${size16}+`,
    'policy text': `texts/${policyV1}+`,
    'vault file': `vault/${vault}`,
    identity: 'identity/device+'
  };
  for (const [what, rel] of Object.entries(targets))
    await stat(path.join(dir, rel)).catch(() => {
      throw new Error(`the fixture has no ${what} at ${rel}`);
    });
  return { dir, files, targets, model: f('robot.glb'), generationId, headSize };
}

/** The storage key a target file stands for (`log/state+` -> `log/state`), or the path itself for Git's files. */
export const keyOf = (rel: string) => rel.replace(/\+$/, '');

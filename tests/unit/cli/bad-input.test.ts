/**
 * Bad input: each refused with exit code 2, a message naming the problem, and the ledger directory
 * byte-for-byte as it was (a hash of the whole tree before and after).
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, hashTree, run, tempDir, type RunResult } from './helpers.ts';

let work: string;
let cleanup: () => Promise<void>;
let L: string;
let pl: ReturnType<typeof cli>;
let generationId: string;
const f = (name: string) => path.join(work, name);

const ANSWERS = {
  trainingOnInputs: 'no',
  trainingOnOutputs: 'no',
  optOutAvailable: 'yes',
  retentionAfterDeletion: 'not-stated',
  thirdPartySharing: 'no',
  internalAccess: 'unclear'
};

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir());
  L = path.join(work, 'ledger');
  pl = cli(L, work);
  await writeFile(f('robot.glb'), Buffer.alloc(1000, 3));
  await writeFile(f('policy.txt'), 'Terms.\n');
  await writeFile(f('answers.json'), JSON.stringify(ANSWERS));
  await writeFile(f('not-json.json'), '{ trainingOnInputs: no, }');
  await writeFile(f('bad-answer.json'), JSON.stringify({ ...ANSWERS, trainingOnInputs: 'maybe' }));
  await writeFile(f('missing-answer.json'), JSON.stringify({ trainingOnInputs: 'no' }));
  await mkdir(f('a-directory.glb'));
  await symlink(f('gone.glb'), f('dangling.glb'));
  await writeFile(f('broken.gltf'), JSON.stringify({ asset: { version: '2.0' }, buffers: [{ uri: 'missing.bin' }] }));
  await writeFile(f('backup-garbage.json'), 'definitely not a backup');
  expect((await pl('init', '--name', 'Ada')).code).toBe(0);
  expect(
    (
      await pl(
        'record',
        'policy',
        '--platform',
        'Tripo',
        '--kind',
        'terms-of-service',
        '--text-file',
        f('policy.txt'),
        '--answers',
        f('answers.json')
      )
    ).code
  ).toBe(0);
  const g = await pl(
    'record',
    'generation',
    '--platform',
    'Tripo',
    '--prompt',
    'a robot',
    '--output',
    f('robot.glb'),
    '--project',
    'P',
    '--classification',
    'public',
    '--json'
  );
  expect(g.code, g.stderr).toBe(0);
  generationId = g.json().event.id;
  const k = await run(['key', 'export', '--ledger', L, '--out', f('key.json')], {
    env: { PROVENANCE_LEDGER_PASSPHRASE: 'right passphrase' }
  });
  expect(k.code, k.stderr).toBe(0);
});

afterAll(() => cleanup());

/** Runs a command that must fail with exit 2 and leave the ledger directory untouched. */
async function refused(args: string[], message: RegExp, env: Record<string, string> = {}): Promise<RunResult> {
  const before = await hashTree(L);
  const r = await run([...args, '--ledger', L], { cwd: work, env });
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stdout).toBe('');
  expect(await hashTree(L)).toBe(before);
  return r;
}

const generation = (...extra: string[]) => [
  'record',
  'generation',
  '--platform',
  'Tripo',
  '--prompt',
  'a robot',
  '--output',
  f('robot.glb'),
  '--project',
  'P',
  '--classification',
  'public',
  ...extra
];

describe('bad input: exit 2, a clear message, the ledger unchanged', () => {
  it('invalid event: a classification outside the schema', async () => {
    await refused(
      [
        'record',
        'generation',
        '--platform',
        'Tripo',
        '--prompt',
        'x',
        '--output',
        f('robot.glb'),
        '--project',
        'P',
        '--classification',
        'secret'
      ],
      /\[USAGE\].*--classification.*'secret' is invalid.*public, personal, confidential, client/
    );
  });

  it('invalid event: the core schema rejects the body (notes too long), and the prompt opening is not kept', async () => {
    await refused(generation('--notes', 'x'.repeat(4001)), /\[SCHEMA_INVALID\].*body\.notes.*4000/);
  });

  it('invalid event: a control character in a label', async () => {
    const r = await refused(generation('--model-version', 'v2\tbeta', '--json'), /SCHEMA_INVALID/);
    expect(r.errorJson().error).toMatchObject({ code: 'SCHEMA_INVALID' });
    expect(r.errorJson().error.message).toMatch(/modelVersion/);
  });

  it('invalid event: a bad answer in the answers file, and the policy text copy is not kept', async () => {
    await writeFile(f('policy-new.txt'), 'Brand new terms.\n');
    await refused(
      [
        'record',
        'policy',
        '--platform',
        'Tripo',
        '--kind',
        'dpa',
        '--text-file',
        f('policy-new.txt'),
        '--answers',
        f('bad-answer.json')
      ],
      /\[SCHEMA_INVALID\].*trainingOnInputs/
    );
  });

  it('unknown flag', async () => {
    await refused([...generation('--bogus-flag')], /\[USAGE\] ?: unknown option '--bogus-flag'/);
    await refused(['log', '--colour'], /unknown option '--colour'/);
  });

  it('missing required option', async () => {
    await refused(
      ['record', 'export', '--file', f('robot.glb'), '--destination-kind', 'nas'],
      /required option '--destination <label>' not specified/
    );
  });

  it('missing file', async () => {
    await refused(
      [
        'record',
        'generation',
        '--platform',
        'Tripo',
        '--prompt',
        'x',
        '--output',
        f('robot.glb'),
        f('nope.glb'),
        '--project',
        'P',
        '--classification',
        'public'
      ],
      /\[BAD_INPUT\].*file not found: .*nope\.glb/
    );
    await refused(['trace', f('nope.glb')], /file not found: .*nope\.glb/);
    await refused(
      [
        'record',
        'generation',
        '--platform',
        'Tripo',
        '--prompt-file',
        f('nope.txt'),
        '--output',
        f('robot.glb'),
        '--project',
        'P',
        '--classification',
        'public'
      ],
      /prompt file not found: .*nope\.txt/
    );
  });

  it('unreadable file: a directory, a dangling symbolic link', async () => {
    await refused(generation('--input', f('a-directory.glb')), /a-directory\.glb is a directory, not a file/);
    await refused(
      ['record', 'export', '--file', f('dangling.glb'), '--destination', 'NAS', '--destination-kind', 'nas'],
      /dangling\.glb is a symbolic link to a file that does not exist/
    );
  });

  it('a .gltf whose buffer is missing', async () => {
    await refused(
      [
        'record',
        'generation',
        '--platform',
        'Tripo',
        '--prompt',
        'x',
        '--output',
        f('broken.gltf'),
        '--project',
        'P',
        '--classification',
        'public'
      ],
      /broken\.gltf references missing\.bin, which is not beside it/
    );
  });

  it('non-JSON answers file, and one missing answers', async () => {
    await refused(
      [
        'record',
        'policy',
        '--platform',
        'Tripo',
        '--kind',
        'dpa',
        '--text-file',
        f('policy.txt'),
        '--answers',
        f('not-json.json')
      ],
      /\[BAD_INPUT\].*answers file .*not-json\.json is not valid JSON/
    );
    await refused(
      [
        'record',
        'policy',
        '--platform',
        'Tripo',
        '--kind',
        'dpa',
        '--text-file',
        f('policy.txt'),
        '--answers',
        f('missing-answer.json')
      ],
      /missing trainingOnOutputs, optOutAvailable/
    );
  });

  it('wrong passphrase', async () => {
    await refused(['key', 'import', f('key.json')], /\[BAD_PASSPHRASE\]/, {
      PROVENANCE_LEDGER_PASSPHRASE: 'wrong passphrase'
    });
    await refused(['key', 'import', f('backup-garbage.json')], /\[BAD_BACKUP\].*not valid JSON/, {
      PROVENANCE_LEDGER_PASSPHRASE: 'right passphrase'
    });
  });

  it('no passphrase and no terminal', async () => {
    await refused(['key', 'export', '--out', f('key2.json')], /PROVENANCE_LEDGER_PASSPHRASE/);
    expect(existsSync(f('key2.json'))).toBe(false);
  });

  it('unknown, short or wrong-type event ids', async () => {
    await refused(['show', 'ffffffffffff'], /\[NOT_FOUND\] ?: no event ffffffffffff/);
    await refused(['show', 'abc'], /at least 8 hex digits/);
    await refused(generation('--checklist', generationId.slice(0, 8)), /is a generation event, not a checklist event/);
    await refused(
      ['record', 'deletion', '--platform', 'Tripo', '--status', 'requested'],
      /--generation ID and\/or --job-id/
    );
  });

  it('an impossible --retrieved-at', async () => {
    await refused(
      [
        'record',
        'policy',
        '--platform',
        'Tripo',
        '--kind',
        'dpa',
        '--text-file',
        f('policy.txt'),
        '--retrieved-at',
        'last tuesday'
      ],
      /--retrieved-at "last tuesday" is not a date/
    );
  });

  it('--json errors are one JSON document on stderr', async () => {
    const r = await refused(['trace', f('nope.glb'), '--json'], /"code":"BAD_INPUT"/);
    expect(r.errorJson().error.message).toMatch(/file not found/);
  });

  it('no ledger directory given, or one that does not exist (and is not created)', async () => {
    const none = await run(['log'], { cwd: work });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/\[USAGE\].*--ledger DIR or set PROVENANCE_LEDGER_DIR/);
    const missing = await run(['log', '--ledger', f('no-such-ledger')], { cwd: work });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/NOT_INITIALIZED/);
    expect(existsSync(f('no-such-ledger'))).toBe(false);
  });

  it('a directory a clone was cut short in: init refuses it, nothing in it changes', async () => {
    const d = f('cut-short');
    await mkdir(d);
    await writeFile(path.join(d, 'clone-unfinished'), 'http://127.0.0.1:9/ledger.git\n');
    const before = await hashTree(d);
    const init = await run(['init', '--name', 'Ada', '--ledger', d], { cwd: work });
    expect(init.code).not.toBe(0);
    expect(init.stderr).toMatch(/CLONE_UNFINISHED.*clone http:\/\/127\.0\.0\.1:9\/ledger\.git --ledger/);
    expect(await hashTree(d)).toBe(before);
  });

  it('remove and role take a device key that starts with "-" as the member, and still refuse unknown options', async () => {
    const key = '-' + 'A'.repeat(42);
    for (const args of [
      ['remove', key],
      ['role', key, 'admin']
    ]) {
      const r = await pl(...args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).not.toMatch(/unknown option/);
      expect(r.stderr).toMatch(/AAAAAAAA/);
    }
    const bogus = await pl('remove', '--bogus');
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/\[USAGE\].*unknown option '--bogus'/);
  });

  it('after all that, the ledger still verifies with its 3 events', async () => {
    const v = await pl('verify', '--json');
    expect(v.code).toBe(0);
    expect(v.json()).toMatchObject({ ok: true, checked: 3, valid: 3 });
  });
});

/**
 * The answers file of `record policy`: the six questions, and the optional ones (ownership and licence of
 * outputs, training data disclosed, data protection commitments) recorded when given, absent when not;
 * an unknown key is refused with the directory unchanged.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli, hashTree, tempDir } from './helpers.ts';

let work: string;
let cleanup: () => Promise<void>;
let pl: ReturnType<typeof cli>;
let L: string;
const f = (name: string) => path.join(work, name);
const SIX = {
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
  await writeFile(f('policy.txt'), 'Terms.\n');
  await writeFile(f('six.json'), JSON.stringify(SIX));
  await writeFile(
    f('more.json'),
    JSON.stringify({
      ...SIX,
      outputsOwned: 'yes',
      contentLicense: { answer: 'yes', excerpt: 'You grant us a worldwide licence.' }
    })
  );
  await writeFile(f('unknown.json'), JSON.stringify({ ...SIX, whoKnows: 'yes' }));
  expect((await pl('init', '--name', 'Ada')).code).toBe(0);
});
afterAll(() => cleanup());

it('records the optional answers given, and none when not given', async () => {
  const a = await pl(
    'record',
    'policy',
    '--platform',
    'Tripo',
    '--kind',
    'privacy-policy',
    '--text-file',
    f('policy.txt'),
    '--answers',
    f('six.json'),
    '--json'
  );
  expect(a.code, a.stderr).toBe(0);
  expect(Object.keys(a.json().event.body.answers).sort()).toEqual(Object.keys(SIX).sort());
  const b = await pl(
    'record',
    'policy',
    '--platform',
    'Tripo',
    '--kind',
    'terms-of-service',
    '--text-file',
    f('policy.txt'),
    '--answers',
    f('more.json'),
    '--json'
  );
  expect(b.code, b.stderr).toBe(0);
  const answers = b.json().event.body.answers;
  expect(answers.outputsOwned).toEqual({ answer: 'yes' });
  expect(answers.contentLicense).toEqual({ answer: 'yes', excerpt: 'You grant us a worldwide licence.' });
  expect(answers.trainingDataDisclosed).toBeUndefined();
  expect((await pl('verify')).code).toBe(0);
});

it('refuses an unknown key, changing nothing', async () => {
  const before = await hashTree(L);
  const r = await pl(
    'record',
    'policy',
    '--platform',
    'Tripo',
    '--kind',
    'dpa',
    '--text-file',
    f('policy.txt'),
    '--answers',
    f('unknown.json')
  );
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/unknown whoKnows/);
  expect(await hashTree(L)).toBe(before);
});

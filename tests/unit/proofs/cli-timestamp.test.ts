/**
 * verify-bundle through the real CLI with a time-stamped bundle (a real openssl TSA): the TSA's root given with
 * --tsa-roots (or $PROVENANCE_LEDGER_TSA_ROOTS) makes the time proven; another root leaves the bundle valid and
 * says why the token is not trusted; --expect-ledger pins the ledger; a wrong file says VALID, then that the file
 * is not the one (exit 1); a BOM before the bundle is ignored with a notice; a damaged roots file is a usage error.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, tempDir } from '../cli/helpers.ts';
import { makeOtherRootPem, startTestTsa, type TestTsa } from '../../helpers/tsa.ts';
import { makeDiskTeam, MODEL } from './fixture.ts';

let root: { dir: string; cleanup: () => Promise<void> };
let team: Awaited<ReturnType<typeof makeDiskTeam>>;
let tsa: TestTsa;
let bundle: string;
let ledgerId: string;
const at = (f: string) => path.join(root.dir, f);

beforeAll(async () => {
  root = await tempDir('pl-proofs-tsa-');
  tsa = await startTestTsa();
  await writeFile(at(MODEL.name), MODEL.bytes);
  await writeFile(at('root.pem'), tsa.rootPem);
  await writeFile(at('other.pem'), await makeOtherRootPem());
  await writeFile(at('broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  await writeFile(at('other.glb'), 'not the model');
  team = await makeDiskTeam(root.dir, createHash('sha256').update(MODEL.bytes).digest('hex'));
  const cp = await run(['checkpoint', '--ledger', team.adaDir, '--tsa', tsa.url, '--json']);
  expect(cp.code, cp.stderr).toBe(0);
  const w = await run(['witness', '--ledger', team.graceDir, '--log', team.adaDir]);
  expect(w.code, w.stderr).toBe(0);
  bundle = at('b.json');
  const p = await run(['prove', at(MODEL.name), '--ledger', team.adaDir, '--out', bundle, '--json']);
  expect(p.code, p.stderr).toBe(0);
  const b = JSON.parse(await readFile(bundle, 'utf8'));
  expect(b.timestamps).toHaveLength(1);
  ledgerId = b.ledger;
}, 120_000);
afterAll(async () => {
  await tsa?.close();
  await root?.cleanup();
});

describe('verify-bundle with time-stamps', () => {
  it("with the TSA's root: VALID, and the time is proven", async () => {
    const v = await run(['verify-bundle', bundle, '--file', at(MODEL.name), '--tsa-roots', at('root.pem')]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^VALID/);
    expect(v.stdout).toMatch(
      new RegExp(
        `- Time: all \\d+ events above existed no later than \\S+ according to ${tsa.tsaSubject.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`
      )
    );
    const env = await run(['verify-bundle', bundle, '--json'], {
      env: { PROVENANCE_LEDGER_TSA_ROOTS: at('root.pem') }
    });
    expect(env.code).toBe(0);
    expect(env.json().statements.join('\n')).toContain('existed no later than');
  });

  it('with another root or none: still VALID (exit 0), the token not trusted and no time claimed', async () => {
    for (const extra of [['--tsa-roots', at('other.pem')], []]) {
      const v = await run(['verify-bundle', bundle, ...extra]);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toMatch(/Notice: The time-stamp token timestamps\[0\] .* is not trusted/);
      expect(v.stdout).not.toContain('no later than');
    }
  });

  it('--expect-ledger pins the ledger id; a malformed one is a usage error', async () => {
    expect((await run(['verify-bundle', bundle, '--expect-ledger', ledgerId])).code).toBe(0);
    const other = await run(['verify-bundle', bundle, '--expect-ledger', 'ab'.repeat(32)]);
    expect(other.code).toBe(1);
    expect(other.stdout).toContain('[LEDGER_UNEXPECTED] ledger');
    expect((await run(['verify-bundle', bundle, '--expect-ledger', 'nope'])).code).toBe(2);
  });

  it('a wrong file: the bundle is VALID, the file is not the one (exit 1)', async () => {
    const v = await run(['verify-bundle', bundle, '--file', at('other.glb')]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/^VALID/);
    expect(v.stdout).toMatch(
      /FILE DOES NOT MATCH \[FILE_NOT_IN_BUNDLE\]: the file other\.glb \(sha256 [0-9a-f]{64}\) is not a file this bundle names/
    );
    expect(v.stdout).not.toContain('INVALID');
  });

  it('a BOM before the bundle is ignored with a notice; a damaged roots file is a usage error', async () => {
    const bom = at('bom.json');
    await writeFile(bom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), await readFile(bundle), Buffer.from('\r\n')]));
    const v = await run(['verify-bundle', bom]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(
      /Notice: The file holds a UTF-8 byte order mark before it and 2 whitespace byte\(s\) after it/
    );
    const broken = await run(['verify-bundle', bundle, '--tsa-roots', at('broken.pem')]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/broken\.pem/);
  });
});

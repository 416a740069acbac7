/** key export / key import: the passphrase-encrypted backup round trip, and the refusals. */
import { cp, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { hashTree, run, tempDir } from './helpers.ts';

const PASS = { PROVENANCE_LEDGER_PASSPHRASE: 'correct horse battery staple' };
let work: string;
let cleanup: () => Promise<void>;
let L: string;
let publicKey: string;

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir());
  L = path.join(work, 'ledger');
  const init = await run(['init', '--ledger', L, '--name', 'Ada', '--json']);
  expect(init.code, init.stderr).toBe(0);
  publicKey = init.json().member.publicKey;
});

afterAll(() => cleanup());

const identityOf = async (dir: string) =>
  Buffer.from((await (await FsStorage.open(dir)).load(['identity', 'device']))!).toString();

describe('key export / import', () => {
  it('exports an encrypted backup (0600) that holds no key in the clear', async () => {
    const out = path.join(work, 'ada.key.json');
    const r = await run(['key', 'export', '--ledger', L, '--out', out, '--json'], { env: PASS });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ out, publicKey, name: 'Ada' });
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const backup = JSON.parse(await readFile(out, 'utf8'));
    expect(backup).toMatchObject({
      format: 'provenance-ledger/key-backup/v1',
      publicKey,
      name: 'Ada',
      kdf: { alg: 'argon2id' },
      cipher: { alg: 'AES-256-GCM' }
    });
    const privateKey = JSON.parse(await identityOf(L)).privateKey;
    expect(await readFile(out, 'utf8')).not.toContain(privateKey);

    const again = await run(['key', 'export', '--ledger', L, '--out', out], { env: PASS });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('imports it into a fresh directory; init there keeps the imported key', async () => {
    const fresh = path.join(work, 'fresh');
    const r = await run(['key', 'import', path.join(work, 'ada.key.json'), '--ledger', fresh, '--json'], { env: PASS });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ status: 'imported', publicKey, name: 'Ada' });
    expect(await identityOf(fresh)).toBe(await identityOf(L));
    const init = await run(['init', '--ledger', fresh, '--json']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json()).toMatchObject({ keyCreated: false, member: { publicKey, name: 'Ada' } });
  });

  it('restores a ledger copied without its key: after import, this device records again', async () => {
    const restored = path.join(work, 'restored');
    await cp(L, restored, { recursive: true });
    await rm(path.join(restored, 'identity'), { recursive: true });
    const before = await run([
      'record',
      'checklist',
      '--ledger',
      restored,
      '--project',
      'P',
      '--classification',
      'public'
    ]);
    expect(before.code).toBe(2);
    expect(before.stderr).toMatch(/no device key/);
    expect(
      (await run(['key', 'import', path.join(work, 'ada.key.json'), '--ledger', restored], { env: PASS })).code
    ).toBe(0);
    const after = await run([
      'record',
      'checklist',
      '--ledger',
      restored,
      '--project',
      'P',
      '--classification',
      'public',
      '--classified',
      '--json'
    ]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.json().event.author.key).toBe(publicKey);
    expect((await run(['verify', '--ledger', restored])).code).toBe(0);
  });

  it('importing the same key again changes nothing; another key is refused', async () => {
    const same = await run(['key', 'import', path.join(work, 'ada.key.json'), '--ledger', L, '--json'], { env: PASS });
    expect(same.code, same.stderr).toBe(0);
    expect(same.json().status).toBe('already-present');

    const other = path.join(work, 'other');
    expect((await run(['init', '--ledger', other, '--name', 'Bob'])).code).toBe(0);
    const before = await hashTree(other);
    const r = await run(['key', 'import', path.join(work, 'ada.key.json'), '--ledger', other], { env: PASS });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/KEY_MISMATCH.*already has another device key/);
    expect(await hashTree(other)).toBe(before);
  });

  it('a wrong passphrase is refused with BAD_PASSPHRASE and creates nothing', async () => {
    const target = path.join(work, 'never-made');
    const r = await run(['key', 'import', path.join(work, 'ada.key.json'), '--ledger', target, '--json'], {
      env: { PROVENANCE_LEDGER_PASSPHRASE: 'not the passphrase' }
    });
    expect(r.code).toBe(2);
    expect(r.errorJson().error.code).toBe('BAD_PASSPHRASE');
    expect(existsSync(target)).toBe(false);
  });

  it('a passphrase shorter than 8 characters is refused at export', async () => {
    const out = path.join(work, 'short.key.json');
    const r = await run(['key', 'export', '--ledger', L, '--out', out], {
      env: { PROVENANCE_LEDGER_PASSPHRASE: 'short' }
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at least 8 characters/);
    expect(existsSync(out)).toBe(false);
  });
});

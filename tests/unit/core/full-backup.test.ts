import { describe, expect, it } from 'vitest';
import { decryptKeyBackup, encryptKeyBackup } from '../../../src/lib/core/backup.ts';
import {
  decryptFullBackup,
  encryptFullBackup,
  parseFullBackup,
  FULL_BACKUP_FORMAT
} from '../../../src/lib/core/full-backup.ts';
import { exportPrivateKey, generateDeviceKey } from '../../../src/lib/core/keys.ts';
import { commitPrompt } from '../../../src/lib/core/commitment.ts';
import { sha256Hex } from '../../../src/lib/core/hash.ts';
import { utf8 } from '../../../src/lib/core/bytes.ts';
import { newTeamKey } from '../../../src/lib/core/team/teamkey.ts';

const FAST = { iterations: 1, memoryKiB: 1024, parallelism: 1 };
const PASS = 'correct horse battery';
const LEDGER_ID = 'a'.repeat(64);

async function makeBackup() {
  const k = await generateDeviceKey(true);
  const key = await encryptKeyBackup(await exportPrivateKey(k.privateKey), k.publicKey, 'Ada', PASS, FAST);
  const text = 'Tripo privacy policy\n\nWe may train on your inputs.';
  const { opening } = await commitPrompt('a small brass robot, low poly');
  const payload = {
    key,
    ledger: '{"format":"provenance-ledger/export/v2"}\n',
    texts: [[await sha256Hex(utf8(text)), text]] as Array<[string, string]>,
    prompts: [opening]
  };
  const backup = await encryptFullBackup(
    payload,
    { ledgerId: LEDGER_ID, ledgerName: 'Brass Robot Studio', events: 1 },
    PASS,
    FAST
  );
  return { backup, payload, text: JSON.stringify(backup) };
}

describe('complete backup (key, ledger, policy texts, prompt vault)', () => {
  it('round trips everything, the header in the clear and the contents not', async () => {
    const { backup, payload, text } = await makeBackup();
    expect(backup.format).toBe(FULL_BACKUP_FORMAT);
    expect(backup.counts).toEqual({ events: 1, texts: 1, prompts: 1 });
    expect(text).not.toContain('brass robot');
    expect(text).not.toContain('train on your inputs');
    const { header, payload: back } = await decryptFullBackup(text, PASS);
    expect(header.ledgerId).toBe(LEDGER_ID);
    expect(header.ledgerName).toBe('Brass Robot Studio');
    expect(back).toEqual(JSON.parse(JSON.stringify(payload)));
  });

  it('names the sealing field that is out of bounds, in the complete backup and in the key backup inside it alike', async () => {
    const { backup, payload } = await makeBackup();
    const cases: Array<[string, (b: any) => void]> = [
      ['kdf.alg must be argon2id', (b) => (b.kdf.alg = 'pbkdf2')],
      ['kdf.iterations', (b) => (b.kdf.iterations = 1000)],
      ['kdf.memoryKiB', (b) => (b.kdf.memoryKiB = 4)],
      ['kdf.parallelism', (b) => (b.kdf.parallelism = 0)],
      ['kdf.salt', (b) => (b.kdf.salt = 'short')],
      ['cipher.alg', (b) => (b.cipher.alg = 'AES-128-CBC')],
      ['cipher.iv', (b) => (b.cipher.iv = 'AAAA')]
    ];
    for (const [field, spoil] of cases) {
      const full = structuredClone(backup);
      spoil(full);
      expect(() => parseFullBackup(JSON.stringify(full))).toThrow(field);
      const key = structuredClone(payload.key);
      spoil(key);
      await expect(decryptKeyBackup(key, PASS)).rejects.toThrow(field);
    }
  });

  it('carries the team keys of every epoch the device holds, with their covers, sealed with the rest', async () => {
    const { payload } = await makeBackup();
    const teamKeys = [newTeamKey(2, ['c'.repeat(64)]), newTeamKey(1)];
    const backup = await encryptFullBackup(
      { ...payload, teamKeys },
      { ledgerId: LEDGER_ID, ledgerName: 'Brass Robot Studio', events: 1 },
      PASS,
      FAST
    );
    const text = JSON.stringify(backup);
    expect(text).not.toContain('teamKeys');
    const { payload: back } = await decryptFullBackup(text, PASS);
    expect(back.teamKeys).toEqual(teamKeys);
    expect(back.teamKeys![0].key).toBeInstanceOf(Uint8Array);
    // The key backup inside is the one given (made without team keys): the complete backup's field is what carries them.
    expect(back.key).toEqual(JSON.parse(JSON.stringify(payload.key)));
    expect(back.key.teamKeys).toBeUndefined();
  });

  it('restores a backup made without team keys (older files, or a device that held none): no teamKeys field', async () => {
    const { text, payload } = await makeBackup();
    const { payload: back } = await decryptFullBackup(text, PASS);
    expect('teamKeys' in back).toBe(false);
    expect(back.ledger).toBe(payload.ledger);
    // An empty list is written as no field at all.
    const none = await encryptFullBackup(
      { ...payload, teamKeys: [] },
      { ledgerId: LEDGER_ID, ledgerName: 'Brass Robot Studio', events: 1 },
      PASS,
      FAST
    );
    expect('teamKeys' in (await decryptFullBackup(JSON.stringify(none), PASS)).payload).toBe(false);
  });

  it('refuses team keys that are not {epoch, key (32 bytes), covers}, naming them', async () => {
    const { payload } = await makeBackup();
    const meta = { ledgerId: LEDGER_ID, ledgerName: 'Brass Robot Studio', events: 1 };
    const spoilt = [
      [{ epoch: 1, key: new Uint8Array(16), covers: [] }],
      [{ epoch: 0, key: new Uint8Array(32), covers: [] }],
      [{ epoch: 1, key: new Uint8Array(32), covers: ['not an event id'] }],
      [
        { epoch: 1, key: new Uint8Array(32), covers: [] },
        { epoch: 1, key: new Uint8Array(32), covers: [] }
      ]
    ];
    for (const teamKeys of spoilt) {
      const b = await encryptFullBackup({ ...payload, teamKeys }, meta, PASS, FAST);
      await expect(decryptFullBackup(JSON.stringify(b), PASS)).rejects.toMatchObject({
        code: 'BAD_BACKUP',
        message: expect.stringMatching(/team keys/)
      });
    }
  });

  it('refuses a wrong passphrase', async () => {
    const { text } = await makeBackup();
    await expect(decryptFullBackup(text, 'wrong horse battery')).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
  });

  it('refuses a flipped byte in the ciphertext and a changed header field', async () => {
    const { backup } = await makeBackup();
    const ct = backup.ciphertext;
    const i = Math.floor(ct.length / 2);
    const flipped = { ...backup, ciphertext: ct.slice(0, i) + (ct[i] === 'A' ? 'B' : 'A') + ct.slice(i + 1) };
    await expect(decryptFullBackup(JSON.stringify(flipped), PASS)).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    await expect(decryptFullBackup(JSON.stringify({ ...backup, ledgerName: 'Other' }), PASS)).rejects.toMatchObject({
      code: 'BAD_PASSPHRASE'
    });
    await expect(
      decryptFullBackup(JSON.stringify({ ...backup, ledgerId: 'b'.repeat(64) }), PASS)
    ).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
  });

  it('refuses a truncated file and a file that is not a backup', async () => {
    const { text, backup } = await makeBackup();
    await expect(decryptFullBackup(text.slice(0, Math.floor(text.length * 0.7)), PASS)).rejects.toMatchObject({
      code: 'BAD_BACKUP'
    });
    // cut short inside the ciphertext but still JSON: authentication fails
    const cut = { ...backup, ciphertext: backup.ciphertext.slice(0, backup.ciphertext.length - 10) };
    await expect(decryptFullBackup(JSON.stringify(cut), PASS)).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    expect(() => parseFullBackup('{"format":"provenance-ledger/key-backup/v1"}')).toThrow(/key backup/);
    expect(() => parseFullBackup('')).toThrow(/not JSON/);
  });

  it('refuses a short passphrase when making one', async () => {
    const { payload } = await makeBackup();
    await expect(
      encryptFullBackup(payload, { ledgerId: LEDGER_ID, ledgerName: 'x', events: 1 }, 'short', FAST)
    ).rejects.toThrow(/at least 8/);
  });
});

import { describe, expect, it } from 'vitest';
import { decryptKeyBackup, encryptKeyBackup } from '../../../src/lib/core/backup.ts';
import {
  exportPrivateKey,
  generateDeviceKey,
  signerFromCryptoKey,
  verifySignature
} from '../../../src/lib/core/keys.ts';
import { toBase64url, utf8 } from '../../../src/lib/core/bytes.ts';

const FAST = { iterations: 1, memoryKiB: 1024, parallelism: 1 };

describe('passphrase-encrypted key backup', () => {
  it('restores a key that signs as the original', async () => {
    const k = await generateDeviceKey(true);
    const pkcs8 = await exportPrivateKey(k.privateKey);
    const backup = await encryptKeyBackup(pkcs8, k.publicKey, 'Ada', 'correct horse battery', FAST);
    expect(JSON.stringify(backup)).not.toContain(toBase64url(pkcs8.slice(16)).slice(0, 40));
    const restored = await decryptKeyBackup(JSON.parse(JSON.stringify(backup)), 'correct horse battery');
    expect(restored.publicKey).toBe(k.publicKey);
    expect(restored.name).toBe('Ada');
    const sig = await signerFromCryptoKey(restored.privateKey, restored.publicKey).sign(utf8('hello'));
    expect(await verifySignature(k.publicKey, utf8('hello'), sig)).toBe(true);
  });

  it('refuses a wrong passphrase and any altered field, naming the problem', async () => {
    const k = await generateDeviceKey(true);
    const backup = await encryptKeyBackup(
      await exportPrivateKey(k.privateKey),
      k.publicKey,
      'Ada',
      'correct horse battery',
      FAST
    );
    await expect(decryptKeyBackup(backup, 'wrong horse battery')).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    await expect(decryptKeyBackup({ ...backup, name: 'Eve' }, 'correct horse battery')).rejects.toMatchObject({
      code: 'BAD_PASSPHRASE'
    });
    await expect(decryptKeyBackup({ ...backup, format: 'x' }, 'correct horse battery')).rejects.toMatchObject({
      code: 'BAD_BACKUP'
    });
    await expect(decryptKeyBackup('not json', 'correct horse battery')).rejects.toMatchObject({ code: 'BAD_BACKUP' });
    await expect(decryptKeyBackup({ ...backup, kdf: { ...backup.kdf, memoryKiB: 1e12 } }, 'x')).rejects.toThrow(
      /memoryKiB/
    );
  });

  it('refuses short passphrases', async () => {
    const k = await generateDeviceKey(true);
    await expect(
      encryptKeyBackup(await exportPrivateKey(k.privateKey), k.publicKey, 'Ada', 'short', FAST)
    ).rejects.toThrow(/at least 8/);
  });
});

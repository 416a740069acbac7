/** The key backup carries the team keys (they open a sealed journal): sealed with the backup, bound to its header. */
import { describe, expect, it } from 'vitest';
import { decryptKeyBackup, encryptKeyBackup } from '../../../src/lib/core/backup.ts';
import { exportPrivateKey, generateDeviceKey } from '../../../src/lib/core/keys.ts';
import { newTeamKey } from '../../../src/lib/core/team/teamkey.ts';

const FAST = { iterations: 1, memoryKiB: 8, parallelism: 1 };
const PASS = 'correct horse battery';

async function backupWith(teams: ReturnType<typeof newTeamKey>[]) {
  const k = await generateDeviceKey(true);
  return encryptKeyBackup(await exportPrivateKey(k.privateKey), k.publicKey, 'Ada', PASS, FAST, teams);
}

describe('key backup: team keys', () => {
  it('round-trips every epoch; a backup without them gives none', async () => {
    const teams = [newTeamKey(1), newTeamKey(2, ['a'.repeat(64)])];
    const b = await backupWith(teams);
    expect(JSON.stringify(b)).not.toContain(Buffer.from(teams[0].key).toString('base64url'));
    const out = await decryptKeyBackup(JSON.parse(JSON.stringify(b)), PASS);
    expect(out.teamKeys).toEqual(teams.map((t) => ({ epoch: t.epoch, key: t.key, covers: t.covers })));
    const none = await decryptKeyBackup(await backupWith([]), PASS);
    expect(none.teamKeys).toEqual([]);
    expect((await backupWith([])).teamKeys).toBeUndefined();
  });

  it('altered, or taken from another backup: refused', async () => {
    const b = await backupWith([newTeamKey(1)]);
    const flipped = structuredClone(b);
    const c = flipped.teamKeys!.ciphertext;
    flipped.teamKeys!.ciphertext = (c[0] === 'A' ? 'B' : 'A') + c.slice(1);
    await expect(decryptKeyBackup(flipped, PASS)).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    const other = await backupWith([newTeamKey(1)]);
    await expect(decryptKeyBackup({ ...b, teamKeys: other.teamKeys }, PASS)).rejects.toMatchObject({
      code: 'BAD_PASSPHRASE'
    });
    await expect(decryptKeyBackup({ ...b, teamKeys: { iv: 'x', ciphertext: 'y' } }, PASS)).rejects.toMatchObject({
      code: 'BAD_BACKUP'
    });
  });
});

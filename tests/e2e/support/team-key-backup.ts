/**
 * A key backup that carries a team key, as `provenance-ledger key export` writes one for a ledger's owner:
 *   node tests/e2e/support/team-key-backup.ts <key backup in> <key backup out>     (passphrase: $PROVENANCE_LEDGER_PASSPHRASE)
 * The device key of the input backup, and a fresh team key of epoch 1. Prints the allowed-signers lines of that
 * epoch's archive key (what `allowed-signers --sealed` prints), so stock git can verify the sealed journal.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { decryptKeyBackup, encryptKeyBackup } from '../../../src/lib/core/backup.ts';
import { exportPrivateKey } from '../../../src/lib/core/keys.ts';
import { newTeamKey } from '../../../src/lib/core/team/teamkey.ts';
import { archiveKeys, sealedAllowedSigners } from '../../../src/lib/core/journal/sealed.ts';

const [input, output] = process.argv.slice(2);
const passphrase = process.env.PROVENANCE_LEDGER_PASSPHRASE ?? '';
const key = await decryptKeyBackup(JSON.parse(readFileSync(input, 'utf8')), passphrase, true);
const team = newTeamKey(1);
const pkcs8 = await exportPrivateKey(key.privateKey);
const backup = await encryptKeyBackup(
  pkcs8,
  key.publicKey,
  key.name,
  passphrase,
  { iterations: 1, memoryKiB: 8192, parallelism: 1 },
  [team]
);
writeFileSync(output, JSON.stringify(backup, null, 2) + '\n');
console.log(JSON.stringify({ allowedSigners: sealedAllowedSigners(await archiveKeys([team])) }));

/**
 * The allowed-signers file (ssh-keygen ALLOWED SIGNERS) for a roster: one line per key that was ever a member,
 * principal = the commit e-mail, restricted to the "git" namespace. With it, stock git verifies the journal:
 *   git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=FILE verify-commit C
 * Removed members stay listed: the commits they made while members remain valid history.
 */
import type { RosterEntry } from '../roster.ts';
import { EMAIL_DOMAIN, keyId } from './commit.ts';
import { oneLine } from './message.ts';
import { sshPublicKeyLine } from './sshsig.ts';

export function allowedSigners(roster: RosterEntry[], ledgerName = ''): string {
  const lines = [`# allowed signers of the journal of ledger "${oneLine(ledgerName)}" (provenance-ledger)`];
  for (const m of [...roster].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    lines.push(`# ${oneLine(m.name)} (${m.role}${m.active ? '' : ', removed'})`);
    lines.push(`${keyId(m.key)}@${EMAIL_DOMAIN} namespaces="git" ${sshPublicKeyLine(m.key)}`);
  }
  return lines.join('\n') + '\n';
}

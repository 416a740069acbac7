/**
 * The allowed-signers file (ssh-keygen ALLOWED SIGNERS) for a roster: one line per key that was ever a member,
 * principal = the commit e-mail, restricted to the "git" namespace. With it, stock git verifies the journal:
 *   git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=FILE verify-commit C
 * Removed members stay listed: the commits they made while members remain valid history. A removed key's line
 * carries `valid-before` (ledger-schema/README.md section 18): git hands ssh-keygen the commit's committer date
 * (-Overify-time), so stock git refuses the key's commits dated after its removal, and after the newest of its
 * events that count (an event concurrent with the removal still counts: section 10). It cannot refuse a commit
 * dated before that but causally after the removal (the author's clock is the author's claim); the ledger's own
 * checks (section 10) refuse those.
 */
import type { LedgerEvent } from '../event.ts';
import type { RosterEntry } from '../roster.ts';
import { EMAIL_DOMAIN, keyId } from './commit.ts';
import { oneLine } from './message.ts';
import { sshPublicKeyLine } from './sshsig.ts';

/**
 * For each removed key of the roster, the time up to which its commits are good: the later of its removal's time
 * and its newest event that counts. `events` are the events that count; `event(id)` finds one by id.
 */
export function removedUntil(
  roster: RosterEntry[],
  events: Iterable<LedgerEvent>,
  event: (id: string) => LedgerEvent | undefined
): Map<string, string> {
  const until = new Map<string, string>();
  for (const m of roster) {
    if (m.active) continue;
    const removal = event(m.since);
    if (removal) until.set(m.key, removal.event.time);
  }
  if (until.size === 0) return until;
  for (const ev of events) {
    const t = until.get(ev.event.author);
    if (t !== undefined && ev.event.time > t) until.set(ev.event.author, ev.event.time);
  }
  return until;
}

/** An RFC 3339 time (section 1: UTC, `Z`) as OpenSSH's YYYYMMDDHHMMSSZ, to the second (commit dates are whole seconds). */
export function opensshTime(rfc3339: string): string {
  const ms = Date.parse(rfc3339);
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${rfc3339}`);
  return new Date(Math.floor(ms / 1000) * 1000)
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** `until`: removed keys' last good time (removedUntil), written as `valid-before`. */
export function allowedSigners(roster: RosterEntry[], ledgerName = '', until: Map<string, string> = new Map()): string {
  const lines = [`# allowed signers of the journal of ledger "${oneLine(ledgerName)}" (provenance-ledger)`];
  for (const m of [...roster].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    const before = m.active ? undefined : until.get(m.key);
    lines.push(`# ${oneLine(m.name)} (${m.role}${m.active ? '' : `, removed${before ? ` ${before}` : ''}`})`);
    const options = `namespaces="git"${before ? `,valid-before="${opensshTime(before)}"` : ''}`;
    lines.push(`${keyId(m.key)}@${EMAIL_DOMAIN} ${options} ${sshPublicKeyLine(m.key)}`);
  }
  return lines.join('\n') + '\n';
}

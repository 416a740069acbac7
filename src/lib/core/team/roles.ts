/**
 * Changing a member's role, as `provenance-ledger role` does and the Team page does alike: one `member` event
 * with action `update` per active device of the member (the roster keeps a role per device key; a device that
 * already has the new role needs none), each naming the device's member id, name and key with the new role,
 * signed by an owner or admin.
 *
 * The checks here are the roster rules (roster.ts, ledger-schema/README.md section 10) said up front with a
 * clear message, plus two the rules cannot see: a change that changes nothing, and one that would leave the
 * ledger with no active owner (nobody could then grant or revoke the owner or admin role again).
 */
import { ErrorCode, LedgerError } from '../errors.ts';
import type { EventId } from '../event.ts';
import type { Ledger } from '../ledger.ts';
import type { Role, RosterEntry } from '../roster.ts';

export const ROLES: readonly Role[] = ['owner', 'admin', 'member', 'viewer'];

const privileged = (role: string | undefined) => role === 'owner' || role === 'admin';

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * The active devices of the member `ref` names (a device key, a member id, or a member name: every active
 * device of that member), checked as the roster rules will check the change: this device an active owner or
 * admin; `role` one of owner, admin, member, viewer; a role that changes something; only an owner grants,
 * changes or revokes the owner or admin role; and at least one active owner left afterwards.
 * Returns the devices whose role changes (a device that already has `role` needs no event).
 */
export function roleTargets(ledger: Ledger, myKey: string, ref: string, role: string): RosterEntry[] {
  const me = ledger.member(myKey);
  if (!me?.active || !privileged(me.role)) {
    throw new LedgerError(
      ErrorCode.NOT_AUTHORIZED,
      `only an owner or admin may change a member's role (this device is ${me?.active ? me.role : 'not an active member'})`
    );
  }
  if (!isRole(role))
    throw new LedgerError(ErrorCode.BAD_INPUT, `the role must be one of ${ROLES.join(', ')}; got "${role}"`);
  const devices = memberDevices(ledger, ref);
  const name = devices[0].name;
  const targets = devices.filter((d) => d.role !== role);
  if (targets.length === 0) throw new LedgerError(ErrorCode.BAD_INPUT, `${name} is already ${article(role)} ${role}`);
  if (me.role !== 'owner' && (privileged(role) || targets.some((t) => privileged(t.role)))) {
    throw new LedgerError(
      ErrorCode.NOT_AUTHORIZED,
      'only an owner may grant, change or revoke the owner or admin role'
    );
  }
  if (ownersLeft(ledger, targets, role) === 0) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `the ledger would have no active owner left: make another member an owner first`
    );
  }
  return targets;
}

/**
 * The active devices of one member: `ref` is a device key (that device's member), else a member id, else a
 * member name (refused when two members share it).
 */
export function memberDevices(ledger: Ledger, ref: string): RosterEntry[] {
  const active = ledger.roster().filter((m) => m.active);
  let id = active.find((m) => m.key === ref)?.memberId ?? active.find((m) => m.memberId === ref)?.memberId;
  if (id === undefined) {
    const ids = [...new Set(active.filter((m) => m.name === ref).map((m) => m.memberId))];
    if (ids.length > 1)
      throw new LedgerError(
        ErrorCode.BAD_INPUT,
        `"${ref}" names ${ids.length} members: give a member id or a device key`
      );
    id = ids[0];
  }
  if (id === undefined) throw new LedgerError(ErrorCode.NOT_FOUND, `no active member or device "${ref}"`);
  return active.filter((m) => m.memberId === id);
}

/** The roles this device may give the member `ref` names now (each passes roleTargets); empty when none. */
export function assignableRoles(ledger: Ledger, myKey: string, ref: string): Role[] {
  return ROLES.filter((r) => {
    try {
      roleTargets(ledger, myKey, ref, r);
      return true;
    } catch {
      return false;
    }
  });
}

/** Records the change: one `member` `update` event per target device, with the same id, name and key and the new role. */
export async function changeRole(ledger: Ledger, targets: RosterEntry[], role: Role): Promise<EventId[]> {
  const events: EventId[] = [];
  for (const t of targets) {
    const ev = await ledger.append('member', {
      action: 'update',
      member: { id: t.memberId, name: t.name, key: t.key, role }
    });
    events.push(ev.id);
  }
  return events;
}

const article = (role: string): string => (role === 'owner' || role === 'admin' ? 'an' : 'a');

/** Active owners once every target holds `role`. */
function ownersLeft(ledger: Ledger, targets: RosterEntry[], role: Role): number {
  const changed = new Set(targets.map((t) => t.key));
  return ledger.roster().filter((m) => m.active && (changed.has(m.key) ? role : m.role) === 'owner').length;
}

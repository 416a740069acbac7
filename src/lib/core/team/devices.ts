/**
 * Who an invite admits, as `provenance-ledger invite` and the Team page decide it alike: a new member with a
 * role (admin, member or viewer), or another device of a member already in the team (`invite --member`, the
 * Team page's "For" select). The admitting device records one `member` event with action `add`: for a new
 * member a new member id (from the joiner's key) and the name the joiner gave; for another device the member's
 * id, current name and role, and the new key. A member with several devices is one member: the roster keeps
 * an entry per device key under the one member id (roster.ts).
 *
 * The checks here are the roster rules (roster.ts `authorize`, ledger-schema/README.md section 10) said up front
 * with a clear message: the inviting device an active owner or admin; only an owner invites an admin, or adds a
 * device to an owner or admin; the member active. They run when the invite is made and again when the new device
 * arrives (the roster may have changed while the invite waited).
 */
import { ErrorCode, LedgerError } from '../errors.ts';
import { defaultMemberId, type Ledger } from '../ledger.ts';
import type { LedgerEvent } from '../event.ts';
import type { Role, RosterEntry } from '../roster.ts';
import { memberDevices } from './roles.ts';

/** The roles a new member may be invited with (owner is given by a role change, never by an invite). */
export const INVITE_ROLES: readonly Role[] = ['admin', 'member', 'viewer'];

const privileged = (role: string | undefined) => role === 'owner' || role === 'admin';

/** The member an invite for another device adds it to. */
export interface DeviceInviteTarget {
  memberId: string;
  name: string;
  role: Role;
  /** The member's active devices now. */
  devices: RosterEntry[];
}

/** This device's roster entry, when it is an active owner or admin (who may invite); refused otherwise. */
export function inviter(ledger: Ledger, myKey: string): RosterEntry {
  const me = ledger.member(myKey);
  if (!me?.active || !privileged(me.role)) {
    throw new LedgerError(
      ErrorCode.NOT_AUTHORIZED,
      `only an owner or admin may invite (this device is ${me?.active ? me.role : 'not an active member'})`
    );
  }
  return me;
}

/** Checks an invite of a new member with `role`: a role an invite gives, and admin only from an owner. */
export function newMemberRole(ledger: Ledger, myKey: string, role: string): Role {
  if (!(INVITE_ROLES as readonly string[]).includes(role))
    throw new LedgerError(ErrorCode.BAD_INPUT, `the role must be one of ${INVITE_ROLES.join(', ')}; got "${role}"`);
  const me = inviter(ledger, myKey);
  if (role === 'admin' && me.role !== 'owner')
    throw new LedgerError(ErrorCode.NOT_AUTHORIZED, 'only an owner may invite an admin');
  return role as Role;
}

/**
 * The member `ref` names (a device key, a member id, or a member name, as roles.ts `memberDevices` resolves it),
 * checked for an invite of another device of it: this device an active owner or admin, the member active, its
 * devices of one role (the new one gets that role), and an owner or admin member only for an owner.
 */
export function deviceInviteTarget(ledger: Ledger, myKey: string, ref: string): DeviceInviteTarget {
  const me = inviter(ledger, myKey);
  return targetOf(me, memberDevices(ledger, ref));
}

/** The members this device may add a device for now (each passes deviceInviteTarget), in roster order. */
export function deviceInviteTargets(ledger: Ledger, myKey: string): DeviceInviteTarget[] {
  const me = ledger.member(myKey);
  if (!me?.active || !privileged(me.role)) return [];
  const ids = [
    ...new Set(
      ledger
        .roster()
        .filter((m) => m.active)
        .map((m) => m.memberId)
    )
  ];
  const out: DeviceInviteTarget[] = [];
  for (const id of ids) {
    try {
      out.push(deviceInviteTargetById(ledger, myKey, id));
    } catch {
      /* not for this device to add */
    }
  }
  return out;
}

/** deviceInviteTarget for a member id exactly (no name or device key that happens to equal it). */
export function deviceInviteTargetById(ledger: Ledger, myKey: string, memberId: string): DeviceInviteTarget {
  const me = inviter(ledger, myKey);
  const devices = ledger.roster().filter((m) => m.active && m.memberId === memberId);
  if (devices.length === 0) throw new LedgerError(ErrorCode.NOT_FOUND, `no active member with id "${memberId}"`);
  return targetOf(me, devices);
}

function targetOf(me: RosterEntry, devices: RosterEntry[]): DeviceInviteTarget {
  const name = devices[devices.length - 1].name;
  const roles = [...new Set(devices.map((d) => d.role))];
  if (roles.length > 1) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `${name}'s devices have different roles (${roles.join(', ')}): give them one role first, which the new device then gets`
    );
  }
  const role = roles[0];
  if (privileged(role) && me.role !== 'owner') {
    throw new LedgerError(
      ErrorCode.NOT_AUTHORIZED,
      `only an owner may add a device to an owner or admin (${name} is ${role === 'owner' ? 'an owner' : 'an admin'})`
    );
  }
  return { memberId: devices[0].memberId, name, role, devices };
}

/** Who joined and as what, once the admitting device recorded it. */
export interface Admitted {
  event: LedgerEvent;
  memberId: string;
  name: string;
  role: Role;
}

/**
 * Records the joiner's `member` `add` event. For a new member (`{ role }`): a member id from the joiner's key and
 * the name it gave. For another device of a member (`{ memberId }`): that member's id, current name and role, the
 * checks run again now. A key that is already an active member is refused.
 */
export async function admit(
  ledger: Ledger,
  myKey: string,
  what: { role: string } | { memberId: string },
  joiner: { deviceKey: string; name: string }
): Promise<Admitted> {
  if (ledger.member(joiner.deviceKey)?.active)
    throw new LedgerError(ErrorCode.BAD_INPUT, 'that device is already a member');
  const m =
    'memberId' in what
      ? deviceInviteTargetById(ledger, myKey, what.memberId)
      : {
          memberId: defaultMemberId(joiner.deviceKey),
          name: joiner.name,
          role: newMemberRole(ledger, myKey, what.role)
        };
  const event = await ledger.append('member', {
    action: 'add',
    member: { id: m.memberId, name: m.name, key: joiner.deviceKey, role: m.role }
  });
  return { event, memberId: m.memberId, name: m.name, role: m.role };
}

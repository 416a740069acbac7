/**
 * What the Team page shows (team.ts): the sync log, with every refusal and its code, filled from the hubs'
 * reports, and the status (roster, invites, peers, last sync, witnessing).
 */
import type { Ledger } from '../core/ledger.ts';
import { keyFingerprint, type PublicKey } from '../core/keys.ts';
import type { SyncReport } from '../core/sync/hub.ts';
import { loadTeamKeys } from '../core/team/teamkey.ts';
import { deviceInviteTargets } from '../core/team/devices.ts';
import { assignableRoles } from '../core/team/roles.ts';
import { newestCosignedBy } from '../core/proofs/witness-sync.ts';
import { attachedDeviceLog } from './bundle-requests.ts';
import type { SyncLogEntry, SyncTransportKind, TeamMember, TeamPeer, TeamStatus } from './team-protocol.ts';
import { label, teamSettings, teamStorage, type TeamCore } from './team-core.ts';
import { onNotice, removable, removal } from './team-removal.ts';

const MAX_LOG = 300;

export function add(t: TeamCore, e: Omit<SyncLogEntry, 'at'>): void {
  t.log.push({ at: new Date().toISOString(), ...e });
  if (t.log.length > MAX_LOG) t.log.splice(0, t.log.length - MAX_LOG);
}

export function onReport(t: TeamCore, kind: SyncTransportKind, r: SyncReport): void {
  if (r.type === 'closed')
    return void add(t, {
      kind: 'error',
      transport: kind,
      message: `Sync over ${label(kind)} stopped: the ${r.reason}`
    });
  const peerName = r.peer ? (t.names.get(r.peer) ?? t.ledger?.member(r.peer)?.name) : undefined;
  if (r.peer) t.peerSeen.set(r.peer, { lastSync: t.peerSeen.get(r.peer)?.lastSync ?? null, lastReport: Date.now() });
  switch (r.type) {
    case 'peer':
      if (r.name) t.names.set(r.peer, r.name);
      add(t, {
        kind: 'peer',
        transport: kind,
        peer: r.peer,
        peerName: r.name,
        message: `Connected to ${r.name ?? 'a peer'}: membership verified`
      });
      break;
    case 'accepted':
      add(t, {
        kind: 'accepted',
        transport: kind,
        peer: r.peer,
        peerName,
        message: `Accepted ${r.events.length} event(s), each verified`
      });
      break;
    case 'rejected':
      add(t, {
        kind: 'rejected',
        transport: kind,
        peer: r.peer,
        peerName,
        code: r.code,
        message: r.message + (r.eventId ? ` (event ${r.eventId.slice(0, 16)})` : '')
      });
      break;
    case 'disconnected':
      add(t, { kind: 'disconnected', transport: kind, peer: r.peer, peerName, message: `Disconnected: ${r.reason}` });
      break;
    case 'team-key':
      if (t.received.has(r.epoch) && !t.announced.has(r.epoch)) {
        t.announced.add(r.epoch);
        add(t, {
          kind: 'team-key',
          transport: kind,
          peer: r.peer,
          peerName,
          message: `New team key (epoch ${r.epoch}) received: the team changed; sync moves to the new epoch's room`
        });
      } else {
        t.handedTo.add(r.peer);
        add(t, {
          kind: 'team-key',
          transport: kind,
          peer: r.peer,
          peerName,
          message: `Handed the team key of epoch ${r.epoch} to a device still on an older one`
        });
      }
      break;
    case 'removed':
      if (!t.stopping) void onNotice(t, r.removal);
      break;
    case 'witnessed':
      t.witnessed.set(r.peer, Math.max(r.size, t.witnessed.get(r.peer) ?? 0));
      add(t, {
        kind: 'info',
        transport: kind,
        peer: r.peer,
        peerName,
        message: `${peerName ?? 'A teammate'} cosigned this device's checkpoint (log of ${r.size} entries): bundles exported now are witnessed`
      });
      break;
    case 'witness-unanswered':
      add(t, {
        kind: 'info',
        transport: kind,
        peer: r.peer,
        peerName,
        message: `${peerName ?? 'A teammate'} did not answer the request to cosign this device's checkpoint (log of ${r.size} entries); it is asked again at the next sync`
      });
      break;
    case 'cosigned':
      t.cosigned.set(r.peer, Math.max(r.size, t.cosigned.get(r.peer) ?? 0));
      add(t, {
        kind: 'info',
        transport: kind,
        peer: r.peer,
        peerName,
        message: `Cosigned ${peerName ?? 'a teammate'}'s checkpoint (log of ${r.size} entries), consistent with the one cosigned before`
      });
      break;
  }
}

/**
 * The largest checkpoint of this device's log that `peer` cosigned: reported in this session, else found among
 * the stored checkpoints (so it survives a page reload; witness-sync.ts remembers the search).
 */
async function witnessedBy(t: TeamCore, ledger: Ledger, peer: string): Promise<number | null> {
  const seen = t.witnessed.get(peer);
  if (seen !== undefined) return seen;
  try {
    return (await newestCosignedBy(await attachedDeviceLog(t.d.host, ledger), ledger.id, peer)) ?? null;
  } catch {
    return null; // no log yet (nothing recorded): nothing witnessed
  }
}

export async function status(t: TeamCore): Promise<TeamStatus> {
  const ledger = t.d.host.ledger();
  const key = t.d.host.deviceIdentity()?.publicKey ?? '';
  const mine = ledger.member(key);
  const byMember = new Map<string, TeamMember>();
  for (const e of ledger.roster()) {
    let m = byMember.get(e.memberId);
    if (!m)
      byMember.set(
        e.memberId,
        (m = {
          memberId: e.memberId,
          name: e.name,
          role: e.role,
          active: false,
          devices: [],
          assignable: [],
          deviceInvite: false
        })
      );
    if (e.active) {
      m.active = true;
      m.role = e.role;
      m.name = e.name;
    }
    m.devices.push({
      key: e.key,
      fingerprint: await keyFingerprint(e.key as PublicKey),
      active: e.active,
      me: e.key === key,
      removable: e.active && key !== '' && removable(ledger, key, e.key)
    });
  }
  const forDevices = new Set(key ? deviceInviteTargets(ledger, key).map((t) => t.memberId) : []);
  for (const m of byMember.values()) {
    if (m.active && key) m.assignable = assignableRoles(ledger, key, m.memberId);
    m.deviceInvite = forDevices.has(m.memberId);
  }
  const online = new Map<string, Set<SyncTransportKind>>();
  for (const { kind, hub } of t.hubs)
    for (const p of hub.peers()) (online.get(p.peer) ?? online.set(p.peer, new Set()).get(p.peer)!).add(kind);
  const peers: TeamPeer[] = [];
  for (const [peer, seen] of t.peerSeen) {
    peers.push({
      key: peer,
      name: t.names.get(peer) ?? ledger.member(peer)?.name ?? '',
      online: online.has(peer),
      transports: [...(online.get(peer) ?? [])],
      lastSync: seen.lastSync,
      witnessed: await witnessedBy(t, ledger, peer),
      cosigned: t.cosigned.get(peer) ?? null
    });
  }
  const keys = await loadTeamKeys(await teamStorage(t));
  return {
    ledgerId: ledger.id,
    me: { key, role: mine?.active ? mine.role : null },
    removed: key ? await removal(t, ledger, key) : null,
    epoch: keys[0]?.epoch ?? null,
    rooms: t.hubs.map((h) => ({ transport: h.kind, epoch: h.epoch })),
    members: [...byMember.values()],
    invites: t.invites.map((i) => ({ ...i })),
    settings: await teamSettings(t),
    running: [...new Set(t.hubs.map((h) => h.kind))],
    peers,
    log: t.log.slice(-150),
    events: ledger.size
  };
}

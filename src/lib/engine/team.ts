/**
 * Team sync in the ledger worker: one SyncHub per transport (the relay's WebSocket, BroadcastChannel between
 * tabs, WebRTC data channels bridged from the page), the team key kept in the device storage beside the
 * ledger (team/key/<epoch>), invites made and answered here (the same code format and exchange as the CLI's
 * `invite` and `join`), and what the Team page shows: roster, invites, peers, last sync, and a sync log with
 * every refusal and its code.
 *
 * RTCPeerConnection does not exist in workers: the page runs the WebRTC mesh (adapters/transport/webrtc.ts)
 * and talks to this file over a MessagePort (engine/team-bridge.ts). The signaling goes through the relay
 * from here, sealed with the team key, so the page never holds the key.
 */
import * as A from '@automerge/automerge/slim';
import { Ledger } from '../core/ledger.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import { keyFingerprint, type PublicKey, type Signer } from '../core/keys.ts';
import { sha256Hex } from '../core/hash.ts';
import { fromUtf8, utf8 } from '../core/bytes.ts';
import type { Role, RosterEntry } from '../core/roster.ts';
import type { StorageAdapter } from '../core/storage.ts';
import { SyncHub, type SyncReport } from '../core/sync/hub.ts';
import type { Transport } from '../core/sync/transport.ts';
import { ensureTeamKey, loadTeamKeys, roomId, roomKey, saveTeamKey, syncEpochs, type TeamKey } from '../core/team/teamkey.ts';
import { hostInvite, inviteRoomKey, joinInvite, makeInviteCode, parseInviteCode } from '../core/team/invite.ts';
import { deviceRemovalTarget, keepRemovalNotice, loadRemovalNotice, removalOf, removalTargets, removeAndRotate, stillRemoved, type Removal } from '../core/team/removal.ts';
import { admit, deviceInviteTargetById, deviceInviteTargets, INVITE_ROLES, newMemberRole, type Admitted } from '../core/team/devices.ts';
import { assignableRoles, changeRole, roleTargets } from '../core/team/roles.ts';
import { connectRelay } from '../adapters/transport/websocket.ts';
import { connectBroadcastChannel } from '../adapters/transport/broadcast-channel.ts';
import { parseSignal, sealedSignaling, signalRoomKey, type Signaling } from '../adapters/transport/webrtc.ts';
import type { LedgerHost, DeviceIdentity } from './host.ts';
import { attachedDeviceLog } from './bundle-requests.ts';
import { newestCosignedBy } from '../core/proofs/witness-sync.ts';
import type { EngineState } from './protocol.ts';
import {
  DEFAULT_RELAY,
  type BridgeMessage,
  type SyncLogEntry,
  type SyncSettings,
  type SyncTransportKind,
  type TeamInvite,
  type TeamMember,
  type TeamPeer,
  type TeamRemoval,
  type TeamRequest,
  type TeamResults,
  type TeamStatus
} from './team-protocol.ts';

export { TEAM_REQUESTS } from './team-protocol.ts';

const SETTINGS_KEY = ['team', 'settings'];
/** After recording a removal, how long to let connected peers (the removed one too) receive it before the key changes. */
const FLUSH_MS = 3000;
/** How long the WebRTC hand-over of a new key to the peers connected at a removal may take. */
const HANDOVER_MS = 10_000;
const MAX_LOG = 300;
const RELAY_RE = /^wss?:\/\/[^\s/]+(\/[^\s]*)?$/;

export interface TeamDeps {
  host: LedgerHost;
  /** The device key, made on first use (join). */
  ensureIdentity(name: string): Promise<DeviceIdentity>;
  loadIdentity(): Promise<DeviceIdentity | undefined>;
  /** Gives the stored device identity another member name (a device that joined as another device of a member takes the member's). */
  renameIdentity?(name: string): Promise<void>;
}

interface RunningHub {
  kind: SyncTransportKind;
  hub: SyncHub;
  /** The team key epoch of the hub's room. */
  epoch: number;
  /** WebRTC: keep the page's bridge open when this hub closes (the team key changed, sync goes on). */
  detach?: () => void;
}

type Connect = () => Promise<Transport & { detach?: () => void }>;

/** The invite code inside what the user pasted: the code itself, or a link with ?join=CODE. */
export function inviteCodeFrom(text: string): string {
  const t = text.trim();
  const m = /[?&#]join=([A-Za-z0-9-]+)/.exec(t);
  return m ? m[1] : t;
}

function checkRelay(relay: unknown): string {
  if (typeof relay !== 'string' || !RELAY_RE.test(relay.trim())) throw new LedgerError(ErrorCode.BAD_INPUT, 'The relay must be a ws:// or wss:// URL');
  return relay.trim().replace(/\/+$/, '');
}

export class TeamService {
  #d: TeamDeps;
  #hubs: RunningHub[] = [];
  #log: SyncLogEntry[] = [];
  #invites: TeamInvite[] = [];
  #names = new Map<string, string>();
  /** Per peer key: transports it is connected over, and the last time sync with it went quiet. */
  #peerSeen = new Map<string, { lastSync: string | null; lastReport: number }>();
  #settings?: SyncSettings;
  #heads = '';
  #ticker?: ReturnType<typeof setInterval>;
  #ledger?: Ledger;
  #port?: MessagePort;

  constructor(d: TeamDeps) {
    this.#d = d;
  }

  handle<T extends TeamRequest['type']>(r: Extract<TeamRequest, { type: T }>): Promise<TeamResults[T]>;
  async handle(r: TeamRequest): Promise<unknown> {
    switch (r.type) {
      case 'team-status':
        return this.status();
      case 'team-invite':
        return this.invite(r.role, r.relay, r.memberId);
      case 'team-join':
        return this.join(r.code, r.name, r.relay);
      case 'team-sync':
        return this.start(r.settings, r.port);
      case 'team-stop':
        await this.stop();
        await this.#saveSettings({ ...(await this.settings()), active: false });
        return this.status();
      case 'team-remove':
        return this.remove(r.memberId);
      case 'team-remove-device':
        return this.removeDevice(r.key);
      case 'team-role':
        return this.changeRole(r.memberId, r.role);
    }
  }

  #add(e: Omit<SyncLogEntry, 'at'>): void {
    this.#log.push({ at: new Date().toISOString(), ...e });
    if (this.#log.length > MAX_LOG) this.#log.splice(0, this.#log.length - MAX_LOG);
  }

  async #storage(): Promise<StorageAdapter> {
    return this.#d.host.storage();
  }

  async settings(): Promise<SyncSettings> {
    if (this.#settings) return this.#settings;
    const b = await (await this.#storage()).load(SETTINGS_KEY);
    let s: SyncSettings = { relay: DEFAULT_RELAY, relayOn: true, webrtc: false, tabs: true };
    if (b) {
      try {
        const o = JSON.parse(fromUtf8(b));
        s = { relay: typeof o.relay === 'string' ? o.relay : s.relay, relayOn: o.relayOn !== false, webrtc: o.webrtc === true, tabs: o.tabs !== false, active: o.active === true };
      } catch {
        /* defaults */
      }
    }
    return (this.#settings = s);
  }

  async #saveSettings(s: SyncSettings): Promise<void> {
    this.#settings = s;
    await (await this.#storage()).save(SETTINGS_KEY, utf8(JSON.stringify(s)));
  }

  #me(): { ledger: Ledger; key: string; role: string | null; signer: Signer } {
    const ledger = this.#d.host.writableLedger();
    const id = this.#d.host.deviceIdentity()!;
    const m = ledger.member(id.publicKey);
    return { ledger, key: id.publicKey, role: m?.active ? m.role : null, signer: id.signer };
  }

  // ── Invites ────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * An invite: of a new member with `roleIn` (admin, member or viewer), or, with `memberIdIn`, of another device
   * of that member, which gets the member's id, name and role (core/team/devices.ts, as `provenance-ledger invite
   * --member`; no role goes with it then).
   */
  async invite(roleIn: unknown, relayIn: unknown, memberIdIn?: unknown): Promise<TeamInvite> {
    const given = (v: unknown) => v !== undefined && v !== null && v !== '';
    if (given(memberIdIn) && typeof memberIdIn !== 'string') throw new LedgerError(ErrorCode.BAD_INPUT, 'Which member the device is for must be a member id');
    if (given(memberIdIn) && given(roleIn)) throw new LedgerError(ErrorCode.BAD_INPUT, "An invite of another device of a member gives the member's role: no role goes with it");
    const role = given(roleIn) ? roleIn : 'member';
    if (typeof role !== 'string' || !INVITE_ROLES.includes(role as Role)) throw new LedgerError(ErrorCode.BAD_INPUT, `The role must be one of ${INVITE_ROLES.join(', ')}`);
    const relay = checkRelay(relayIn);
    const { ledger, key, role: myRole } = this.#me();
    const target = given(memberIdIn) ? deviceInviteTargetById(ledger, key, memberIdIn as string) : (newMemberRole(ledger, key, role), undefined);
    const storage = await this.#storage();
    const team = await ensureTeamKey(storage, myRole === 'owner');
    if (!team) throw new LedgerError(ErrorCode.NOT_FOUND, 'This device holds no team key yet: sync with the owner first');
    const { code, invite: inv } = makeInviteCode(ledger.id);
    const transport = await connectRelay(relay, await inviteRoomKey(inv));
    const entry: TeamInvite = { code, role: target?.role ?? role, ...(target ? { member: { id: target.memberId, name: target.name } } : {}), state: 'waiting', created: new Date().toISOString() };
    this.#invites.push(entry);
    await this.#saveSettings({ ...(await this.settings()), relay });
    this.#add({ kind: 'info', message: `Invite made for ${target ? `another device of ${target.name} (${target.role})` : `a new ${role}`}; waiting at the relay for the new device` });
    let added: Admitted | undefined;
    void hostInvite({
      invite: inv,
      transport,
      team,
      timeoutMs: 30 * 60_000,
      admit: async (j) => {
        const a = (added = await admit(ledger, key, target ? { memberId: target.memberId } : { role }, j));
        const who = target ? `another device of ${a.name}` : a.name;
        this.#add({ kind: 'info', message: `Added ${who} as ${a.role} (member event ${a.event.id.slice(0, 16)})`, peer: j.deviceKey, peerName: a.name });
        return { ledgerId: ledger.id, role: a.role, doc: A.save(ledger.doc) };
      }
    })
      .then((j) => {
        const name = added?.name ?? j.name;
        entry.state = 'joined';
        entry.joinedName = name;
        this.#add({ kind: 'info', message: target ? `A new device of ${name} joined the team` : `${name} joined the team`, peer: j.deviceKey, peerName: name });
        this.#pokeAll();
      })
      .catch((e: Error) => {
        entry.state = 'failed';
        entry.error = e.message;
        this.#add({ kind: 'error', message: `Invite ${code.slice(0, 11)}… failed: ${e.message}` });
      })
      .finally(() => transport.close());
    return { ...entry };
  }

  /** A new device joins with an invite code: the ledger arrives, is verified whole, and becomes this device's. */
  async join(codeIn: unknown, nameIn: unknown, relayIn: unknown): Promise<EngineState> {
    const inv = typeof codeIn === 'string' ? parseInviteCode(inviteCodeFrom(codeIn)) : undefined;
    if (!inv) throw new LedgerError(ErrorCode.BAD_INPUT, 'That is not an invite code');
    const name = typeof nameIn === 'string' ? nameIn.trim() : '';
    if (!name || name.length > 256) throw new LedgerError(ErrorCode.BAD_INPUT, 'Your name is required');
    const relay = checkRelay(relayIn);
    const storage = await this.#storage();
    if (await Ledger.exists(storage)) throw new LedgerError(ErrorCode.ALREADY_INITIALIZED, 'This device already holds a ledger');
    const identity = await this.#d.ensureIdentity(name);
    const transport = await connectRelay(relay, await inviteRoomKey(inv));
    try {
      const { welcome, done } = await joinInvite({ invite: inv, transport, signer: identity.signer, name, timeoutMs: 60_000 });
      await storage.save(['doc', 'snapshot', await sha256Hex(welcome.doc)], welcome.doc);
      const report = await Ledger.verifyStorage(storage, welcome.ledgerId);
      const state = report.ok ? await this.#d.host.reopen() : undefined;
      if (!state || state.state !== 'ready' || !this.#d.host.ledger().member(identity.publicKey)?.active) {
        await storage.removeRange(['doc']);
        await this.#d.host.reopen();
        throw new LedgerError(
          ErrorCode.GENESIS,
          `The ledger received does not verify or does not make this device a member${report.ok ? '' : `: ${report.problems.slice(0, 3).map((p) => `${p.code} ${p.message}`).join('; ')}`}`
        );
      }
      await saveTeamKey(storage, welcome.team);
      await this.#saveSettings({ ...(await this.settings()), relay });
      await done();
      await new Promise((r) => setTimeout(r, 100));
      // The device keeps the name the roster gives it: for another device of a member, the member's, whatever was typed.
      const ledger = this.#d.host.ledger();
      const mine = ledger.member(identity.publicKey)!;
      const devices = ledger.roster().filter((m) => m.active && m.memberId === mine.memberId).length;
      let joined: EngineState = state;
      if (mine.name !== identity.memberName && this.#d.renameIdentity) {
        await this.#d.renameIdentity(mine.name);
        joined = await this.#d.host.reloadIdentity();
      }
      const as = devices > 1 ? `another device of ${mine.name} (${mine.role})${mine.name !== name ? `; the name typed, “${name}”, is not used` : ''}` : mine.role;
      this.#add({ kind: 'info', message: `Joined “${state.ledger.name}” as ${as}; ${state.events.length} events received, every one verified` });
      return joined;
    } finally {
      transport.close();
    }
  }

  // ── Removal ────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * An owner or admin removes a member: a `member` remove event for each of its active devices, then a new team
   * key epoch covering them (core/team/removal.ts, as `provenance-ledger remove`).
   */
  async remove(memberIdIn: unknown): Promise<TeamStatus> {
    if (typeof memberIdIn !== 'string' || !memberIdIn) throw new LedgerError(ErrorCode.BAD_INPUT, 'Which member to remove is required');
    const { ledger, key } = this.#me();
    const targets = removalTargets(ledger, key, memberIdIn).filter((t) => t.memberId === memberIdIn);
    if (targets.length === 0) throw new LedgerError(ErrorCode.NOT_FOUND, 'No active member with that id');
    const name = targets[0].name;
    return this.#removeAndMove(targets, (events, epoch) => `Removed ${name} (${targets.length} device${targets.length === 1 ? '' : 's'}; member event ${events[0].slice(0, 16)}); team key rotated to epoch ${epoch}`);
  }

  /**
   * An owner or admin removes one device of a member (a lost laptop): one `member` remove event for that key,
   * then a new team key epoch, as for a member. The member and its other devices stay.
   */
  async removeDevice(keyIn: unknown): Promise<TeamStatus> {
    if (typeof keyIn !== 'string' || !keyIn) throw new LedgerError(ErrorCode.BAD_INPUT, 'Which device to remove is required');
    const { ledger, key } = this.#me();
    const target = deviceRemovalTarget(ledger, key, keyIn);
    const fingerprint = await keyFingerprint(target.key as PublicKey);
    return this.#removeAndMove([target], (events, epoch) => {
      const left = ledger.roster().filter((m) => m.active && m.memberId === target.memberId).length;
      return `Removed ${target.name}'s device ${fingerprint} (member event ${events[0].slice(0, 16)}); ${target.name} stays a member with ${left} device${left === 1 ? '' : 's'}; team key rotated to epoch ${epoch}`;
    });
  }

  /**
   * Records the removals and rotates the team key (core/team/removal.ts). Connected peers, the removed devices
   * among them, get the removal events first; then sync moves to the new epoch's room, and this device stays in the
   * old one to hand the new key to the remaining devices (never to the removed ones: they fail the membership proof).
   */
  async #removeAndMove(targets: RosterEntry[], said: (events: string[], epoch: number) => string): Promise<TeamStatus> {
    const { ledger } = this.#me();
    const storage = await this.#storage();
    const { events, team } = await removeAndRotate(ledger, storage, targets);
    this.#newest = team;
    this.#add({ kind: 'info', peer: targets[0].key, peerName: targets[0].name, message: said(events, team.epoch) });
    if (this.#hubs.length) {
      this.#pokeAll();
      const t0 = Date.now();
      do await new Promise((r) => setTimeout(r, 100));
      while (Date.now() - t0 < FLUSH_MS && !this.#hubs.every(({ hub }) => hub.quiet(300)));
      await this.#handOverOverWebRtc().catch((e: Error) => this.#add({ kind: 'error', transport: 'webrtc', message: `Could not hand the new team key over WebRTC: ${e.message}` }));
      this.#moveToNewEpoch();
      await this.#switching;
    }
    return this.status();
  }

  // ── Roles ──────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * An owner or admin changes a member's role: a `member` update event for each of its active devices
   * (core/team/roles.ts, as `provenance-ledger role`). Connected peers receive them at once; the others at their
   * next sync.
   */
  async changeRole(memberIdIn: unknown, roleIn: unknown): Promise<TeamStatus> {
    if (typeof memberIdIn !== 'string' || !memberIdIn) throw new LedgerError(ErrorCode.BAD_INPUT, 'Which member is required');
    if (typeof roleIn !== 'string' || !roleIn) throw new LedgerError(ErrorCode.BAD_INPUT, 'The new role is required');
    const { ledger, key } = this.#me();
    // By member id only (the page names members by id): a name or device key that happens to equal it is no match.
    const targets = roleTargets(ledger, key, memberIdIn, roleIn).filter((t) => t.memberId === memberIdIn);
    if (targets.length === 0) throw new LedgerError(ErrorCode.NOT_FOUND, 'No active member with that id');
    const from = targets[0].role;
    const events = await changeRole(ledger, targets, roleIn as Role);
    const name = targets[0].name;
    this.#add({ kind: 'info', peer: targets[0].key, peerName: name, message: `${name} is now ${roleIn === 'owner' || roleIn === 'admin' ? 'an' : 'a'} ${roleIn} (was ${from}; member event ${events[0].slice(0, 16)}${events.length > 1 ? ` and ${events.length - 1} more` : ''})` });
    this.#pokeAll();
    return this.status();
  }

  /**
   * WebRTC runs one mesh per page, so after the move no WebRTC hub stays in the old epoch's room (relay and tabs
   * do). Before moving, the WebRTC hub greets its peers again in the old room: each remaining one proves
   * membership anew and is handed the new key then (removed ones are refused). Waits until each was handed it.
   */
  async #handOverOverWebRtc(): Promise<void> {
    const old = this.#hubs.find((h) => h.kind === 'webrtc');
    const ledger = this.#ledger;
    if (!old || !this.#port || !ledger) return;
    const waiting = old.hub.peers().map((p) => p.peer).filter((k) => ledger.member(k)?.active);
    if (waiting.length === 0) return;
    const storage = await this.#storage();
    const oldKey = (await loadTeamKeys(storage)).find((k) => k.epoch === old.epoch);
    if (!oldKey) return;
    this.#hubs = this.#hubs.filter((h) => h !== old);
    old.detach?.();
    await old.hub.close().catch(() => undefined);
    this.#handedTo.clear();
    const transport = await this.#webrtc(this.#port, (await this.settings()).relay, oldKey);
    const hub = await this.#hub('webrtc', ledger, storage, oldKey, await roomId(oldKey), transport);
    this.#hubs.push({ kind: 'webrtc', hub, epoch: oldKey.epoch, detach: transport.detach });
    const t0 = Date.now();
    while (Date.now() - t0 < HANDOVER_MS && !waiting.every((k) => this.#handedTo.has(k))) await new Promise((r) => setTimeout(r, 100));
  }
  /** Peers this device handed a newer team key to (since the last WebRTC hand-over began). */
  #handedTo = new Set<string>();

  /** This device's removal: from its own roster, or from a notice a peer showed it (kept: core/team/removal.ts). */
  async #removal(ledger: Ledger, key: string): Promise<TeamRemoval | null> {
    const r = removalOf(ledger, key);
    if (r) return { eventId: r.eventId, by: r.by, byName: r.byName, at: r.at, source: 'ledger' };
    if (this.#notice === undefined) this.#notice = ledger.removedBy ?? (await loadRemovalNotice(await this.#storage(), ledger, key)) ?? null;
    const n = this.#notice;
    // Invited again after the removal: the old notice no longer holds.
    return n && stillRemoved(ledger, key, n) ? this.#asTeamRemoval(n) : null;
  }
  #notice?: Removal | null;
  #asTeamRemoval = (n: Removal): TeamRemoval => ({ eventId: n.eventId, by: n.by, byName: n.byName, at: n.at, source: 'notice' });

  /** This device learned that it was removed: sync stops, and is not started again after a reload. */
  async #removedStop(r: Removal, source: 'ledger' | 'notice'): Promise<void> {
    this.#stopping = true;
    try {
      await this.stop();
      await this.#saveSettings({ ...(await this.settings()), active: false });
      this.#add({
        kind: 'error',
        code: 'PEER_REMOVED',
        peer: r.by,
        peerName: r.byName,
        message: `This device was removed from the team by ${r.byName || 'an admin'} (member event ${r.eventId.slice(0, 16)}${source === 'notice' ? ', shown by a peer that refused this device' : ''}): sync stopped; the team no longer accepts this device`
      });
    } finally {
      this.#stopping = false;
    }
  }
  #stopping = false;

  // ── Sync ───────────────────────────────────────────────────────────────────────────────────────────────

  async start(settingsIn: SyncSettings, port?: MessagePort): Promise<TeamStatus> {
    const s: SyncSettings = {
      relay: checkRelay(settingsIn?.relay),
      relayOn: settingsIn?.relayOn === true,
      webrtc: settingsIn?.webrtc === true,
      tabs: settingsIn?.tabs === true
    };
    await this.stop();
    const { ledger, key, role } = this.#me();
    const removed = await this.#removal(ledger, key);
    if (removed) throw new LedgerError(ErrorCode.NOT_AUTHORIZED, `This device was removed from the team by ${removed.byName || 'an admin'}: it can no longer sync with the team`);
    await this.#saveSettings({ ...s, active: true });
    const storage = await this.#storage();
    await ensureTeamKey(storage, role === 'owner');
    const keys = await loadTeamKeys(storage);
    if (keys.length === 0) throw new LedgerError(ErrorCode.NOT_FOUND, 'This device holds no team key: join the team with an invite');
    this.#ledger = ledger;
    this.#newest = keys[0];
    if (s.webrtc && !port) throw new LedgerError(ErrorCode.BAD_INPUT, 'WebRTC needs the page bridge');
    await this.#open(s, keys, port);
    this.#heads = ledger.heads().join();
    this.#ticker ??= setInterval(() => this.#tick(), 250);
    return this.status();
  }

  /**
   * Sync in the current epoch's room over each chosen transport; owners and admins also stay in the earlier
   * epochs' rooms (relay and tabs), to hand the new key to devices that were away while it changed, as the CLI's
   * `sync` does. Whoever is refused there (a removed device) is refused at the membership proof.
   */
  async #open(s: SyncSettings, keys: TeamKey[], port?: MessagePort, only?: (team: TeamKey) => boolean): Promise<void> {
    const { ledger, role } = this.#me();
    const storage = await this.#storage();
    this.#roomsFor = privileged(role);
    const rooms = syncEpochs(keys, role ?? undefined).filter((k) => !only || only(k));
    for (const team of rooms) {
      const current = team === keys[0];
      const key = await roomKey(team);
      const room = key.id;
      const tries: Array<[SyncTransportKind, Connect]> = [];
      if (s.relayOn) tries.push(['relay', () => connectRelay(s.relay, key)]);
      if (s.tabs) tries.push(['tabs', async () => connectBroadcastChannel(room)]);
      if (s.webrtc && current && port) tries.push(['webrtc', () => this.#webrtc(port, s.relay, team)]);
      const where = current ? `team key epoch ${team.epoch}` : `earlier team key epoch ${team.epoch}, to hand the new key over`;
      for (const [kind, connect] of tries) {
        try {
          const transport = await connect();
          const hub = await this.#hub(kind, ledger, storage, team, room, transport);
          this.#hubs.push({ kind, hub, epoch: team.epoch, detach: transport.detach });
          this.#add({ kind: 'info', transport: kind, message: `Sync started over ${label(kind)} (${where})` });
        } catch (e) {
          this.#add({ kind: 'error', transport: kind, message: `Could not start sync over ${label(kind)} (${where}): ${(e as Error).message}` });
        }
      }
    }
  }

  /**
   * The team key changed (this device removed a member, or an owner or admin handed it a newer key): sync
   * leaves the old epoch's rooms and goes on in the new one's. WebRTC keeps the page's bridge, whose mesh drops
   * the connections made under the old key. Runs outside the hub that delivered the key (never inside its inbox).
   */
  #moveToNewEpoch(): void {
    this.#switching = this.#switching
      .then(async () => {
        if (this.#hubs.length === 0) return; // not syncing: the next start takes the newest key
        const keys = await loadTeamKeys(await this.#storage());
        if (!keys[0] || this.#hubs.some((h) => h.epoch === keys[0].epoch)) return;
        const hubs = this.#hubs;
        this.#hubs = [];
        for (const h of hubs) {
          h.detach?.();
          await h.hub.close().catch(() => undefined);
        }
        this.#add({ kind: 'team-key', message: `Sync moves to team key epoch ${keys[0].epoch}` });
        await this.#open(await this.settings(), keys, this.#port);
      })
      .catch((e: Error) => this.#add({ kind: 'error', message: `Could not move sync to the new team key: ${e.message}` }));
  }
  #switching: Promise<void> = Promise.resolve();
  /** Whether the rooms sync runs in are an owner's or admin's (the earlier epochs' too: syncEpochs), or a member's. */
  #roomsFor?: boolean;

  /**
   * This device's role changed by a member event it received (promoted to admin, or demoted): an owner or admin
   * also syncs in the earlier epochs' rooms (relay and tabs) and a member or viewer does not, so those rooms are
   * opened or left now. Sync in the current epoch's room goes on untouched.
   */
  #followRole(): void {
    this.#switching = this.#switching
      .then(async () => {
        if (this.#hubs.length === 0) return;
        const { role } = this.#me();
        const keys = await loadTeamKeys(await this.#storage());
        if (!keys[0] || !this.#hubs.some((h) => h.epoch === keys[0].epoch)) return; // a key move is due: it opens the rooms the role wants
        const want = new Set(syncEpochs(keys, role ?? undefined).map((k) => k.epoch));
        const leave = this.#hubs.filter((h) => !want.has(h.epoch));
        this.#hubs = this.#hubs.filter((h) => want.has(h.epoch));
        for (const h of leave) await h.hub.close().catch(() => undefined);
        const held = new Set(this.#hubs.map((h) => h.epoch));
        const opening = keys.filter((k) => want.has(k.epoch) && !held.has(k.epoch));
        this.#add({
          kind: 'info',
          message: privileged(role)
            ? `This device is now ${role === 'owner' ? 'an owner' : 'an admin'}: sync also waits in the rooms of ${opening.length} earlier team key epoch${opening.length === 1 ? '' : 's'}, to hand the newest key to devices still on them`
            : `This device is now a ${role}: sync leaves the rooms of earlier team key epochs`
        });
        await this.#open(await this.settings(), keys, this.#port, (k) => !held.has(k.epoch));
      })
      .catch((e: Error) => this.#add({ kind: 'error', message: `Could not change the rooms sync runs in: ${e.message}` }));
  }

  async #webrtc(port: MessagePort, relay: string, team: TeamKey): Promise<Transport & { detach: () => void }> {
    const sigTransport = await connectRelay(relay, await signalRoomKey(team));
    const signaling: Signaling = await sealedSignaling(sigTransport, team);
    this.#port = port;
    let onFrame: (f: Uint8Array) => void = () => {};
    let onClose: (r: string) => void = () => {};
    let closed = false;
    let detached = false;
    const post = (m: BridgeMessage) => port.postMessage(m);
    signaling.onMessage((msg) => post({ t: 'sig', msg }));
    sigTransport.onClose((r) => !closed && this.#add({ kind: 'error', transport: 'webrtc', message: `Signaling connection closed: ${r}` }));
    port.onmessage = (e: MessageEvent) => {
      const m = e.data as BridgeMessage;
      if (closed || typeof m !== 'object' || m === null) return;
      if (m.t === 'frame' && m.frame instanceof Uint8Array) onFrame(m.frame);
      else if (m.t === 'sig') {
        const s = parseSignal(m.msg);
        if (s) signaling.send(s);
      } else if (m.t === 'peers' && Array.isArray(m.ids)) {
        this.#add({ kind: 'info', transport: 'webrtc', message: `${m.ids.length} WebRTC data channel(s) open` });
      }
    };
    post({ t: 'ready' });
    return {
      send: (frame) => !closed && post({ t: 'frame', frame }),
      onFrame: (h) => (onFrame = h),
      onClose: (h) => (onClose = h),
      detach: () => (detached = true),
      close: () => {
        if (closed) return;
        closed = true;
        if (detached) post({ t: 'restart' });
        else {
          post({ t: 'stop' });
          port.close();
        }
        signaling.close();
        onClose('closed');
      }
    };
  }

  #hub(kind: SyncTransportKind, ledger: Ledger, storage: StorageAdapter, team: TeamKey, room: string, transport: Transport): Promise<SyncHub> {
    return SyncHub.start({
      ledger,
      storage,
      signer: this.#me().signer,
      team,
      room,
      transport,
      onReport: (r) => this.#onReport(kind, r),
      // Witnessing at each sync: this device's log (the one bundles use), attached when first needed.
      log: () => attachedDeviceLog(this.#d.host, ledger),
      newestTeamKey: () => this.#newest,
      onTeamKey: async (k) => {
        await saveTeamKey(storage, k);
        this.#newest = k;
        this.#received.add(k.epoch);
        setTimeout(() => this.#moveToNewEpoch(), 0);
      }
    }).then((hub) => {
      void loadTeamKeys(storage).then((k) => (this.#newest = k[0]));
      return hub;
    });
  }
  #newest?: TeamKey;
  /** Per peer: the largest checkpoint of this device's log it cosigned, and of its log this device cosigned. */
  #witnessed = new Map<string, number>();
  #cosigned = new Map<string, number>();
  /** Team key epochs this device received from an owner or admin (the rest of the 'team-key' reports are keys it handed out). */
  #received = new Set<number>();
  #announced = new Set<number>();

  #onReport(kind: SyncTransportKind, r: SyncReport): void {
    if (r.type === 'closed') return void this.#add({ kind: 'error', transport: kind, message: `Sync over ${label(kind)} stopped: the ${r.reason}` });
    const peerName = r.peer ? (this.#names.get(r.peer) ?? this.#ledger?.member(r.peer)?.name) : undefined;
    if (r.peer) this.#peerSeen.set(r.peer, { lastSync: this.#peerSeen.get(r.peer)?.lastSync ?? null, lastReport: Date.now() });
    switch (r.type) {
      case 'peer':
        if (r.name) this.#names.set(r.peer, r.name);
        this.#add({ kind: 'peer', transport: kind, peer: r.peer, peerName: r.name, message: `Connected to ${r.name ?? 'a peer'}: membership verified` });
        break;
      case 'accepted':
        this.#add({ kind: 'accepted', transport: kind, peer: r.peer, peerName, message: `Accepted ${r.events.length} event(s), each verified` });
        break;
      case 'rejected':
        this.#add({ kind: 'rejected', transport: kind, peer: r.peer, peerName, code: r.code, message: r.message + (r.eventId ? ` (event ${r.eventId.slice(0, 16)})` : '') });
        break;
      case 'disconnected':
        this.#add({ kind: 'disconnected', transport: kind, peer: r.peer, peerName, message: `Disconnected: ${r.reason}` });
        break;
      case 'team-key':
        if (this.#received.has(r.epoch) && !this.#announced.has(r.epoch)) {
          this.#announced.add(r.epoch);
          this.#add({ kind: 'team-key', transport: kind, peer: r.peer, peerName, message: `New team key (epoch ${r.epoch}) received: the team changed; sync moves to the new epoch's room` });
        } else {
          this.#handedTo.add(r.peer);
          this.#add({ kind: 'team-key', transport: kind, peer: r.peer, peerName, message: `Handed the team key of epoch ${r.epoch} to a device still on an older one` });
        }
        break;
      case 'removed':
        if (!this.#stopping) void this.#onNotice(r.removal);
        break;
      case 'witnessed':
        this.#witnessed.set(r.peer, Math.max(r.size, this.#witnessed.get(r.peer) ?? 0));
        this.#add({ kind: 'info', transport: kind, peer: r.peer, peerName, message: `${peerName ?? 'A teammate'} cosigned this device's checkpoint (log of ${r.size} entries): bundles exported now are witnessed` });
        break;
      case 'witness-unanswered':
        this.#add({ kind: 'info', transport: kind, peer: r.peer, peerName, message: `${peerName ?? 'A teammate'} did not answer the request to cosign this device's checkpoint (log of ${r.size} entries); it is asked again at the next sync` });
        break;
      case 'cosigned':
        this.#cosigned.set(r.peer, Math.max(r.size, this.#cosigned.get(r.peer) ?? 0));
        this.#add({ kind: 'info', transport: kind, peer: r.peer, peerName, message: `Cosigned ${peerName ?? 'a teammate'}'s checkpoint (log of ${r.size} entries), consistent with the one cosigned before` });
        break;
    }
  }

  /**
   * The largest checkpoint of this device's log that `peer` cosigned: reported in this session, else found among
   * the stored checkpoints (so it survives a page reload; witness-sync.ts remembers the search).
   */
  async #witnessedBy(ledger: Ledger, peer: string): Promise<number | null> {
    const seen = this.#witnessed.get(peer);
    if (seen !== undefined) return seen;
    try {
      return (await newestCosignedBy(await attachedDeviceLog(this.#d.host, ledger), ledger.id, peer)) ?? null;
    } catch {
      return null; // no log yet (nothing recorded): nothing witnessed
    }
  }

  /** A peer refused this device and showed it its removal (checked by the hub against this roster): kept, and sync stops. */
  async #onNotice(r: Removal): Promise<void> {
    const ledger = this.#ledger;
    if (!ledger || this.#notice?.eventId === r.eventId) return;
    this.#notice = r;
    // Kept with its signature; from now on the ledger refuses this device's appends.
    await keepRemovalNotice(await this.#storage(), ledger, r);
    setTimeout(() => void this.#removedStop(r, 'notice'), 0);
  }

  /** Local appends reach connected peers; quiet peers count as in sync now. */
  #tick(): void {
    const ledger = this.#ledger;
    if (!ledger) return;
    const me = this.#d.host.deviceIdentity()?.publicKey;
    if (me && this.#hubs.length && !this.#stopping) {
      const removed = removalOf(ledger, me);
      if (removed) return void this.#removedStop(removed, 'ledger');
    }
    if (this.#hubs.length && !this.#stopping && this.#roomsFor !== undefined && me) {
      const m = ledger.member(me);
      const now = privileged(m?.active ? m.role : null);
      if (m?.active && now !== this.#roomsFor) {
        this.#roomsFor = now;
        this.#followRole();
      }
    }
    const heads = ledger.heads().join();
    if (heads !== this.#heads) {
      this.#heads = heads;
      this.#pokeAll();
    }
    const now = new Date().toISOString();
    for (const { hub } of this.#hubs) {
      if (!hub.quiet(300)) continue;
      for (const p of hub.peers()) {
        const seen = this.#peerSeen.get(p.peer);
        this.#peerSeen.set(p.peer, { lastSync: now, lastReport: seen?.lastReport ?? Date.now() });
      }
    }
  }

  #pokeAll(): void {
    for (const { hub } of this.#hubs) hub.poke();
  }

  async stop(): Promise<void> {
    const hubs = this.#hubs;
    this.#hubs = [];
    for (const h of hubs) {
      await h.hub.close().catch(() => undefined);
      this.#add({ kind: 'info', transport: h.kind, message: `Sync stopped over ${label(h.kind)}` });
    }
    if (this.#ticker) (clearInterval(this.#ticker), (this.#ticker = undefined));
    this.#port = undefined;
  }

  // ── Status ─────────────────────────────────────────────────────────────────────────────────────────────

  async status(): Promise<TeamStatus> {
    const ledger = this.#d.host.ledger();
    const key = this.#d.host.deviceIdentity()?.publicKey ?? '';
    const mine = ledger.member(key);
    const byMember = new Map<string, TeamMember>();
    for (const e of ledger.roster()) {
      let m = byMember.get(e.memberId);
      if (!m) byMember.set(e.memberId, (m = { memberId: e.memberId, name: e.name, role: e.role, active: false, devices: [], assignable: [], deviceInvite: false }));
      if (e.active) (m.active = true), (m.role = e.role), (m.name = e.name);
      m.devices.push({ key: e.key, fingerprint: await keyFingerprint(e.key as PublicKey), active: e.active, me: e.key === key, removable: e.active && key !== '' && removable(ledger, key, e.key) });
    }
    const forDevices = new Set(key ? deviceInviteTargets(ledger, key).map((t) => t.memberId) : []);
    for (const m of byMember.values()) {
      if (m.active && key) m.assignable = assignableRoles(ledger, key, m.memberId);
      m.deviceInvite = forDevices.has(m.memberId);
    }
    const online = new Map<string, Set<SyncTransportKind>>();
    for (const { kind, hub } of this.#hubs) for (const p of hub.peers()) (online.get(p.peer) ?? online.set(p.peer, new Set()).get(p.peer)!).add(kind);
    const peers: TeamPeer[] = [];
    for (const [peer, seen] of this.#peerSeen) {
      peers.push({
        key: peer,
        name: this.#names.get(peer) ?? ledger.member(peer)?.name ?? '',
        online: online.has(peer),
        transports: [...(online.get(peer) ?? [])],
        lastSync: seen.lastSync,
        witnessed: await this.#witnessedBy(ledger, peer),
        cosigned: this.#cosigned.get(peer) ?? null
      });
    }
    const keys = await loadTeamKeys(await this.#storage());
    return {
      ledgerId: ledger.id,
      me: { key, role: mine?.active ? mine.role : null },
      removed: key ? await this.#removal(ledger, key) : null,
      epoch: keys[0]?.epoch ?? null,
      rooms: this.#hubs.map((h) => ({ transport: h.kind, epoch: h.epoch })),
      members: [...byMember.values()],
      invites: this.#invites.map((i) => ({ ...i })),
      settings: await this.settings(),
      running: [...new Set(this.#hubs.map((h) => h.kind))],
      peers,
      log: this.#log.slice(-150),
      events: ledger.size
    };
  }
}

const privileged = (role: string | null | undefined) => role === 'owner' || role === 'admin';

/** Whether this device may remove the device `target` now (removal.ts deviceRemovalTarget passes). */
function removable(ledger: Ledger, myKey: string, target: string): boolean {
  try {
    deviceRemovalTarget(ledger, myKey, target);
    return true;
  } catch {
    return false;
  }
}

const label = (k: SyncTransportKind) => (k === 'relay' ? 'the relay' : k === 'tabs' ? "this browser's tabs" : 'WebRTC');

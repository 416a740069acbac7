/**
 * The Team page's requests to the ledger worker (team sync): status, invites, join, and which transports
 * sync runs over. Kept apart from protocol.ts, which includes these in its Request union and Results.
 * Every string here that came from a peer or the roster is shown by the page as text, never as markup.
 */
export type SyncTransportKind = 'relay' | 'webrtc' | 'tabs';

export interface SyncSettings {
  /** The relay's ws:// URL: sync (relay transport), invites, and WebRTC signaling go through it. */
  relay: string;
  /** Which transports to sync over. */
  relayOn: boolean;
  webrtc: boolean;
  tabs: boolean;
  /** Sync was running when this device last used it (the Team page starts it again after a reload). */
  active?: boolean;
}

export interface TeamDevice {
  key: string;
  fingerprint: string;
  active: boolean;
  /** This browser's device. */
  me: boolean;
  /** This device may remove this one device now (the roster rules, core/team/removal.ts); the member stays. */
  removable: boolean;
}

export interface TeamMember {
  memberId: string;
  name: string;
  role: string;
  active: boolean;
  devices: TeamDevice[];
  /** The roles this device may give the member now (the roster rules, core/team/roles.ts); empty when none. */
  assignable: string[];
  /** This device may invite another device of the member now (core/team/devices.ts). */
  deviceInvite: boolean;
}

export interface TeamInvite {
  code: string;
  role: string;
  /** An invite of another device of this member (its id and name); absent for a new member. */
  member?: { id: string; name: string };
  state: 'waiting' | 'joined' | 'failed';
  created: string;
  joinedName?: string;
  error?: string;
}

export interface TeamPeer {
  key: string;
  name: string;
  online: boolean;
  transports: SyncTransportKind[];
  /** Last time this device exchanged sync messages with the peer and had nothing left to say (RFC 3339). */
  lastSync: string | null;
  /** The largest checkpoint of this device's log that the peer cosigned (its entries), null when none is known. */
  witnessed: number | null;
  /** The largest checkpoint of the peer's log that this device cosigned in this session (its entries), or null. */
  cosigned: number | null;
}

export interface SyncLogEntry {
  at: string;
  kind: 'peer' | 'accepted' | 'rejected' | 'disconnected' | 'team-key' | 'info' | 'error';
  transport?: SyncTransportKind;
  code?: string;
  message: string;
  peer?: string;
  peerName?: string;
}

/** This device was removed from the team: who removed it, when, by which member event. */
export interface TeamRemoval {
  eventId: string;
  by: string;
  byName: string;
  at: string;
  /** 'ledger': the removal event is in this device's ledger; 'notice': a peer refused this device and showed it the signed removal event. */
  source: 'ledger' | 'notice';
}

export interface TeamStatus {
  ledgerId: string;
  me: { key: string; role: string | null };
  /** Set when this device was removed from the team (it can no longer sync). */
  removed: TeamRemoval | null;
  /** The newest team key epoch this device holds, or null (not yet synced with an owner). */
  epoch: number | null;
  /** The rooms sync runs in now: the current epoch's, and for owners and admins the earlier ones' too (to hand the new key to devices still on them). */
  rooms: Array<{ transport: SyncTransportKind; epoch: number }>;
  members: TeamMember[];
  invites: TeamInvite[];
  settings: SyncSettings;
  /** Transports running now. */
  running: SyncTransportKind[];
  peers: TeamPeer[];
  log: SyncLogEntry[];
  /** Events in the ledger now (the page reloads its event list when this changes). */
  events: number;
}

export type TeamRequest =
  | { type: 'team-status' }
  /** A new member with `role`, or another device of the member `memberId` (which gets the member's role: no `role` then). */
  | { type: 'team-invite'; role?: string; memberId?: string; relay: string }
  | { type: 'team-join'; code: string; name: string; relay: string }
  | { type: 'team-sync'; settings: SyncSettings; port?: MessagePort }
  | { type: 'team-stop' }
  /** An owner or admin removes a member (every active device of it) and rotates the team key. */
  | { type: 'team-remove'; memberId: string }
  /** An owner or admin removes one device of a member (by its key; the member stays) and rotates the team key. */
  | { type: 'team-remove-device'; key: string }
  /** An owner or admin changes a member's role (a member update event for every active device of it). */
  | { type: 'team-role'; memberId: string; role: string };

export interface TeamResults {
  'team-status': TeamStatus;
  'team-invite': TeamInvite;
  'team-join': import('./protocol.ts').EngineState;
  'team-sync': TeamStatus;
  'team-stop': TeamStatus;
  'team-remove': TeamStatus;
  'team-remove-device': TeamStatus;
  'team-role': TeamStatus;
}

export const TEAM_REQUESTS: ReadonlySet<string> = new Set([
  'team-status',
  'team-invite',
  'team-join',
  'team-sync',
  'team-stop',
  'team-remove',
  'team-remove-device',
  'team-role'
]);

/** Messages on the MessagePort between the page's WebRTC mesh and the worker's hub and signaling. */
export type BridgeMessage =
  | { t: 'frame'; frame: Uint8Array }
  | { t: 'sig'; msg: unknown }
  | { t: 'ready' }
  | { t: 'peers'; ids: string[] }
  /** The team key changed: the page drops its peer connections and waits for 'ready' (new signaling, new room). */
  | { t: 'restart' }
  | { t: 'stop' };

export const DEFAULT_RELAY = 'ws://127.0.0.1:8787';

export const isTeamRequest = <R extends { type: string }>(r: R): r is Extract<R, TeamRequest> =>
  TEAM_REQUESTS.has(r.type);

/**
 * The Team service's state (team.ts), shared by its parts (team-invites, team-removal, team-roles, team-epochs,
 * team-transports, team-log), and the small reads they all make: storage, settings, this device.
 */
import type { Ledger } from '../core/ledger.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import type { Signer } from '../core/keys.ts';
import { fromUtf8, utf8 } from '../core/bytes.ts';
import type { StorageAdapter } from '../core/storage.ts';
import type { SyncHub } from '../core/sync/hub.ts';
import type { Transport } from '../core/sync/transport.ts';
import type { TeamKey } from '../core/team/teamkey.ts';
import type { Removal } from '../core/team/removal.ts';
import type { LedgerHost, DeviceIdentity } from './host.ts';
import {
  DEFAULT_RELAY,
  type SyncLogEntry,
  type SyncSettings,
  type SyncTransportKind,
  type TeamInvite
} from './team-protocol.ts';

const SETTINGS_KEY = ['team', 'settings'];
const RELAY_RE = /^wss?:\/\/[^\s/]+(\/[^\s]*)?$/;

export interface TeamDeps {
  host: LedgerHost;
  /** The device key, made on first use (join). */
  ensureIdentity(name: string): Promise<DeviceIdentity>;
  loadIdentity(): Promise<DeviceIdentity | undefined>;
  /** Gives the stored device identity another member name (a device that joined as another device of a member takes the member's). */
  renameIdentity?(name: string): Promise<void>;
}

export interface RunningHub {
  kind: SyncTransportKind;
  hub: SyncHub;
  /** The team key epoch of the hub's room. */
  epoch: number;
  /** WebRTC: keep the page's bridge open when this hub closes (the team key changed, sync goes on). */
  detach?: () => void;
}

export type Connect = () => Promise<Transport & { detach?: () => void }>;

/** What TeamService holds; its parts read and change it. */
export interface TeamCore {
  d: TeamDeps;
  hubs: RunningHub[];
  log: SyncLogEntry[];
  invites: TeamInvite[];
  names: Map<string, string>;
  /** Per peer key: transports it is connected over, and the last time sync with it went quiet. */
  peerSeen: Map<string, { lastSync: string | null; lastReport: number }>;
  settings?: SyncSettings;
  heads: string;
  ticker?: ReturnType<typeof setInterval>;
  ledger?: Ledger;
  port?: MessagePort;
  /** Peers this device handed a newer team key to (since the last WebRTC hand-over began). */
  handedTo: Set<string>;
  notice?: Removal | null;
  stopping: boolean;
  switching: Promise<void>;
  /** Whether the rooms sync runs in are an owner's or admin's (the earlier epochs' too: syncEpochs), or a member's. */
  roomsFor?: boolean;
  newest?: TeamKey;
  /** Per peer: the largest checkpoint of this device's log it cosigned, and of its log this device cosigned. */
  witnessed: Map<string, number>;
  cosigned: Map<string, number>;
  /** Team key epochs this device received from an owner or admin (the rest of the 'team-key' reports are keys it handed out). */
  received: Set<number>;
  announced: Set<number>;
}

export function newTeamCore(d: TeamDeps): TeamCore {
  return {
    d,
    hubs: [],
    log: [],
    invites: [],
    names: new Map(),
    peerSeen: new Map(),
    heads: '',
    handedTo: new Set(),
    stopping: false,
    switching: Promise.resolve(),
    witnessed: new Map(),
    cosigned: new Map(),
    received: new Set(),
    announced: new Set()
  };
}

export function checkRelay(relay: unknown): string {
  if (typeof relay !== 'string' || !RELAY_RE.test(relay.trim()))
    throw new LedgerError(ErrorCode.BAD_INPUT, 'The relay must be a ws:// or wss:// URL');
  return relay.trim().replace(/\/+$/, '');
}

export const privileged = (role: string | null | undefined) => role === 'owner' || role === 'admin';

export const label = (k: SyncTransportKind) =>
  k === 'relay' ? 'the relay' : k === 'tabs' ? "this browser's tabs" : 'WebRTC';

export async function teamStorage(t: TeamCore): Promise<StorageAdapter> {
  return t.d.host.storage();
}

export async function teamSettings(t: TeamCore): Promise<SyncSettings> {
  if (t.settings) return t.settings;
  const b = await (await teamStorage(t)).load(SETTINGS_KEY);
  let s: SyncSettings = { relay: DEFAULT_RELAY, relayOn: true, webrtc: false, tabs: true };
  if (b) {
    try {
      const o = JSON.parse(fromUtf8(b));
      s = {
        relay: typeof o.relay === 'string' ? o.relay : s.relay,
        relayOn: o.relayOn !== false,
        webrtc: o.webrtc === true,
        tabs: o.tabs !== false,
        active: o.active === true
      };
    } catch {
      /* defaults */
    }
  }
  return (t.settings = s);
}

export async function saveSettings(t: TeamCore, s: SyncSettings): Promise<void> {
  t.settings = s;
  await (await teamStorage(t)).save(SETTINGS_KEY, utf8(JSON.stringify(s)));
}

export function me(t: TeamCore): { ledger: Ledger; key: string; role: string | null; signer: Signer } {
  const ledger = t.d.host.writableLedger();
  const id = t.d.host.deviceIdentity()!;
  const m = ledger.member(id.publicKey);
  return { ledger, key: id.publicKey, role: m?.active ? m.role : null, signer: id.signer };
}

export function pokeAll(t: TeamCore): void {
  for (const { hub } of t.hubs) hub.poke();
}

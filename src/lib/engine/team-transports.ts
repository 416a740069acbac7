/**
 * Sync in the Team service (team.ts): one SyncHub per transport (the relay's WebSocket, BroadcastChannel
 * between tabs, WebRTC data channels bridged from the page), started and stopped, and the tick that pokes peers
 * after local appends.
 */
import type { Ledger } from '../core/ledger.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import type { StorageAdapter } from '../core/storage.ts';
import { SyncHub } from '../core/sync/hub.ts';
import type { Transport } from '../core/sync/transport.ts';
import { ensureTeamKey, loadTeamKeys, roomKey, saveTeamKey, syncEpochs, type TeamKey } from '../core/team/teamkey.ts';
import { removalOf } from '../core/team/removal.ts';
import { connectRelay } from '../adapters/transport/websocket.ts';
import { connectBroadcastChannel } from '../adapters/transport/broadcast-channel.ts';
import { parseSignal, sealedSignaling, signalRoomKey, type Signaling } from '../adapters/transport/webrtc.ts';
import { attachedDeviceLog } from './bundle-requests.ts';
import type { BridgeMessage, SyncSettings, SyncTransportKind, TeamStatus } from './team-protocol.ts';
import {
  checkRelay,
  label,
  me,
  pokeAll,
  privileged,
  saveSettings,
  teamStorage,
  type Connect,
  type TeamCore
} from './team-core.ts';
import { moveToNewEpoch } from './team-epochs.ts';
import { add, onReport, status } from './team-log.ts';
import { removal, removedStop } from './team-removal.ts';
import { followRole } from './team-roles.ts';

export async function start(t: TeamCore, settingsIn: SyncSettings, port?: MessagePort): Promise<TeamStatus> {
  const s: SyncSettings = {
    relay: checkRelay(settingsIn?.relay),
    relayOn: settingsIn?.relayOn === true,
    webrtc: settingsIn?.webrtc === true,
    tabs: settingsIn?.tabs === true
  };
  await stop(t);
  const { ledger, key, role } = me(t);
  const removed = await removal(t, ledger, key);
  if (removed)
    throw new LedgerError(
      ErrorCode.NOT_AUTHORIZED,
      `This device was removed from the team by ${removed.byName || 'an admin'}: it can no longer sync with the team`
    );
  await saveSettings(t, { ...s, active: true });
  const storage = await teamStorage(t);
  await ensureTeamKey(storage, role === 'owner');
  const keys = await loadTeamKeys(storage);
  if (keys.length === 0)
    throw new LedgerError(ErrorCode.NOT_FOUND, 'This device holds no team key: join the team with an invite');
  t.ledger = ledger;
  t.newest = keys[0];
  if (s.webrtc && !port) throw new LedgerError(ErrorCode.BAD_INPUT, 'WebRTC needs the page bridge');
  await open(t, s, keys, port);
  t.heads = ledger.heads().join();
  t.ticker ??= setInterval(() => tick(t), 250);
  return status(t);
}

/**
 * Sync in the current epoch's room over each chosen transport; owners and admins also stay in the earlier
 * epochs' rooms (relay and tabs), to hand the new key to devices that were away while it changed, as the CLI's
 * `sync` does. Whoever is refused there (a removed device) is refused at the membership proof.
 */
export async function open(
  t: TeamCore,
  s: SyncSettings,
  keys: TeamKey[],
  port?: MessagePort,
  only?: (team: TeamKey) => boolean
): Promise<void> {
  const { ledger, role } = me(t);
  const storage = await teamStorage(t);
  t.roomsFor = privileged(role);
  const rooms = syncEpochs(keys, role ?? undefined).filter((k) => !only || only(k));
  for (const team of rooms) {
    const current = team === keys[0];
    const key = await roomKey(team);
    const room = key.id;
    const tries: Array<[SyncTransportKind, Connect]> = [];
    if (s.relayOn) tries.push(['relay', () => connectRelay(s.relay, key)]);
    if (s.tabs) tries.push(['tabs', async () => connectBroadcastChannel(room)]);
    if (s.webrtc && current && port) tries.push(['webrtc', () => webrtc(t, port, s.relay, team)]);
    const where = current
      ? `team key epoch ${team.epoch}`
      : `earlier team key epoch ${team.epoch}, to hand the new key over`;
    for (const [kind, connect] of tries) {
      try {
        const transport = await connect();
        const hub = await startHub(t, kind, ledger, storage, team, room, transport);
        t.hubs.push({ kind, hub, epoch: team.epoch, detach: transport.detach });
        add(t, { kind: 'info', transport: kind, message: `Sync started over ${label(kind)} (${where})` });
      } catch (e) {
        add(t, {
          kind: 'error',
          transport: kind,
          message: `Could not start sync over ${label(kind)} (${where}): ${(e as Error).message}`
        });
      }
    }
  }
}

export async function webrtc(
  t: TeamCore,
  port: MessagePort,
  relay: string,
  team: TeamKey
): Promise<Transport & { detach: () => void }> {
  const sigTransport = await connectRelay(relay, await signalRoomKey(team));
  const signaling: Signaling = await sealedSignaling(sigTransport, team);
  t.port = port;
  let onFrame: (f: Uint8Array) => void = () => {};
  let onClose: (r: string) => void = () => {};
  let closed = false;
  let detached = false;
  const post = (m: BridgeMessage) => port.postMessage(m);
  signaling.onMessage((msg) => post({ t: 'sig', msg }));
  sigTransport.onClose(
    (r) => !closed && add(t, { kind: 'error', transport: 'webrtc', message: `Signaling connection closed: ${r}` })
  );
  port.onmessage = (e: MessageEvent) => {
    const m = e.data as BridgeMessage;
    if (closed || typeof m !== 'object' || m === null) return;
    if (m.t === 'frame' && m.frame instanceof Uint8Array) onFrame(m.frame);
    else if (m.t === 'sig') {
      const s = parseSignal(m.msg);
      if (s) signaling.send(s);
    } else if (m.t === 'peers' && Array.isArray(m.ids)) {
      add(t, { kind: 'info', transport: 'webrtc', message: `${m.ids.length} WebRTC data channel(s) open` });
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

export function startHub(
  t: TeamCore,
  kind: SyncTransportKind,
  ledger: Ledger,
  storage: StorageAdapter,
  team: TeamKey,
  room: string,
  transport: Transport
): Promise<SyncHub> {
  return SyncHub.start({
    ledger,
    storage,
    signer: me(t).signer,
    team,
    room,
    transport,
    onReport: (r) => onReport(t, kind, r),
    // Witnessing at each sync: this device's log (the one bundles use), attached when first needed.
    log: () => attachedDeviceLog(t.d.host, ledger),
    newestTeamKey: () => t.newest,
    onTeamKey: async (k) => {
      await saveTeamKey(storage, k);
      t.newest = k;
      t.received.add(k.epoch);
      setTimeout(() => moveToNewEpoch(t), 0);
    }
  }).then((hub) => {
    void loadTeamKeys(storage).then((k) => (t.newest = k[0]));
    return hub;
  });
}

/** Local appends reach connected peers; quiet peers count as in sync now. */
function tick(t: TeamCore): void {
  const ledger = t.ledger;
  if (!ledger) return;
  const me = t.d.host.deviceIdentity()?.publicKey;
  if (me && t.hubs.length && !t.stopping) {
    const removed = removalOf(ledger, me);
    if (removed) return void removedStop(t, removed, 'ledger');
  }
  if (t.hubs.length && !t.stopping && t.roomsFor !== undefined && me) {
    const m = ledger.member(me);
    const now = privileged(m?.active ? m.role : null);
    if (m?.active && now !== t.roomsFor) {
      t.roomsFor = now;
      followRole(t);
    }
  }
  const heads = ledger.heads().join();
  if (heads !== t.heads) {
    t.heads = heads;
    pokeAll(t);
  }
  const now = new Date().toISOString();
  for (const { hub } of t.hubs) {
    if (!hub.quiet(300)) continue;
    for (const p of hub.peers()) {
      const seen = t.peerSeen.get(p.peer);
      t.peerSeen.set(p.peer, { lastSync: now, lastReport: seen?.lastReport ?? Date.now() });
    }
  }
}

export async function stop(t: TeamCore): Promise<void> {
  const hubs = t.hubs;
  t.hubs = [];
  for (const h of hubs) {
    await h.hub.close().catch(() => undefined);
    add(t, { kind: 'info', transport: h.kind, message: `Sync stopped over ${label(h.kind)}` });
  }
  if (t.ticker) {
    clearInterval(t.ticker);
    t.ticker = undefined;
  }
  t.port = undefined;
}

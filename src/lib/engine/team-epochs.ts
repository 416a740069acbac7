/**
 * Team key epochs in the Team service (team.ts): sync moved to the new epoch's rooms, and the new key handed
 * over WebRTC to the peers connected at a removal.
 */
import { loadTeamKeys, roomId } from '../core/team/teamkey.ts';
import { teamSettings, teamStorage, type TeamCore } from './team-core.ts';
import { add } from './team-log.ts';
import { open, startHub, webrtc } from './team-transports.ts';

/** How long the WebRTC hand-over of a new key to the peers connected at a removal may take. */
const HANDOVER_MS = 10_000;

/**
 * The team key changed (this device removed a member, or an owner or admin handed it a newer key): sync
 * leaves the old epoch's rooms and goes on in the new one's. WebRTC keeps the page's bridge, whose mesh drops
 * the connections made under the old key. Runs outside the hub that delivered the key (never inside its inbox).
 */
export function moveToNewEpoch(t: TeamCore): void {
  t.switching = t.switching
    .then(async () => {
      if (t.hubs.length === 0) return; // not syncing: the next start takes the newest key
      const keys = await loadTeamKeys(await teamStorage(t));
      if (!keys[0] || t.hubs.some((h) => h.epoch === keys[0].epoch)) return;
      const hubs = t.hubs;
      t.hubs = [];
      for (const h of hubs) {
        h.detach?.();
        await h.hub.close().catch(() => undefined);
      }
      add(t, { kind: 'team-key', message: `Sync moves to team key epoch ${keys[0].epoch}` });
      await open(t, await teamSettings(t), keys, t.port);
    })
    .catch((e: Error) => add(t, { kind: 'error', message: `Could not move sync to the new team key: ${e.message}` }));
}

/**
 * WebRTC runs one mesh per page, so after the move no WebRTC hub stays in the old epoch's room (relay and tabs
 * do). Before moving, the WebRTC hub greets its peers again in the old room: each remaining one proves
 * membership anew and is handed the new key then (removed ones are refused). Waits until each was handed it.
 */
export async function handOverOverWebRtc(t: TeamCore): Promise<void> {
  const old = t.hubs.find((h) => h.kind === 'webrtc');
  const ledger = t.ledger;
  if (!old || !t.port || !ledger) return;
  const waiting = old.hub
    .peers()
    .map((p) => p.peer)
    .filter((k) => ledger.member(k)?.active);
  if (waiting.length === 0) return;
  const storage = await teamStorage(t);
  const oldKey = (await loadTeamKeys(storage)).find((k) => k.epoch === old.epoch);
  if (!oldKey) return;
  t.hubs = t.hubs.filter((h) => h !== old);
  old.detach?.();
  await old.hub.close().catch(() => undefined);
  t.handedTo.clear();
  const transport = await webrtc(t, t.port, (await teamSettings(t)).relay, oldKey);
  const hub = await startHub(t, 'webrtc', ledger, storage, oldKey, await roomId(oldKey), transport);
  t.hubs.push({ kind: 'webrtc', hub, epoch: oldKey.epoch, detach: transport.detach });
  const t0 = Date.now();
  while (Date.now() - t0 < HANDOVER_MS && !waiting.every((k) => t.handedTo.has(k)))
    await new Promise((r) => setTimeout(r, 100));
}

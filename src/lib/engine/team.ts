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
 *
 * The parts: invites (team-invites.ts), removal (team-removal.ts), roles (team-roles.ts), team key epochs
 * (team-epochs.ts), transports and hubs (team-transports.ts), the sync log and status (team-log.ts), over the
 * state they share (team-core.ts). TeamService is their façade.
 */
import type { EngineState } from './protocol.ts';
import type { SyncSettings, TeamInvite, TeamRequest, TeamResults, TeamStatus } from './team-protocol.ts';
import { newTeamCore, saveSettings, teamSettings, type TeamCore, type TeamDeps } from './team-core.ts';
import { invite, join } from './team-invites.ts';
import { remove, removeDevice } from './team-removal.ts';
import { changeRole } from './team-roles.ts';
import { start, stop } from './team-transports.ts';
import { status } from './team-log.ts';

export { TEAM_REQUESTS } from './team-protocol.ts';
export { inviteCodeFrom } from './team-invites.ts';
export type { TeamDeps } from './team-core.ts';

export class TeamService {
  #t: TeamCore;

  constructor(d: TeamDeps) {
    this.#t = newTeamCore(d);
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
        await saveSettings(this.#t, { ...(await this.settings()), active: false });
        return this.status();
      case 'team-remove':
        return this.remove(r.memberId);
      case 'team-remove-device':
        return this.removeDevice(r.key);
      case 'team-role':
        return this.changeRole(r.memberId, r.role);
    }
  }

  settings(): Promise<SyncSettings> {
    return teamSettings(this.#t);
  }

  /**
   * An invite: of a new member with `roleIn` (admin, member or viewer), or, with `memberIdIn`, of another device
   * of that member (team-invites.ts).
   */
  invite(roleIn: unknown, relayIn: unknown, memberIdIn?: unknown): Promise<TeamInvite> {
    return invite(this.#t, roleIn, relayIn, memberIdIn);
  }

  /** A new device joins with an invite code: the ledger arrives, is verified whole, and becomes this device's. */
  join(codeIn: unknown, nameIn: unknown, relayIn: unknown): Promise<EngineState> {
    return join(this.#t, codeIn, nameIn, relayIn);
  }

  /** An owner or admin removes a member, then rotates the team key (team-removal.ts). */
  remove(memberIdIn: unknown): Promise<TeamStatus> {
    return remove(this.#t, memberIdIn);
  }

  /** An owner or admin removes one device of a member, then rotates the team key (team-removal.ts). */
  removeDevice(keyIn: unknown): Promise<TeamStatus> {
    return removeDevice(this.#t, keyIn);
  }

  /** An owner or admin changes a member's role (team-roles.ts). */
  changeRole(memberIdIn: unknown, roleIn: unknown): Promise<TeamStatus> {
    return changeRole(this.#t, memberIdIn, roleIn);
  }

  start(settingsIn: SyncSettings, port?: MessagePort): Promise<TeamStatus> {
    return start(this.#t, settingsIn, port);
  }

  stop(): Promise<void> {
    return stop(this.#t);
  }

  status(): Promise<TeamStatus> {
    return status(this.#t);
  }
}

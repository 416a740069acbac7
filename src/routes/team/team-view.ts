/** What the Team page's sections share: the roster rules they show and how an error reads. */
import { EngineError } from '#lib/engine/protocol.ts';
import type { TeamMember } from '#lib/engine/team-protocol.ts';

/** An error as the page shows it: the engine's message with its code. */
export const errorText = (e: unknown) =>
  e instanceof EngineError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);

export const privileged = (role: string | null | undefined) => role === 'owner' || role === 'admin';

/** The active devices of `m`. */
export const activeDevices = (m: TeamMember) => m.devices.filter((d) => d.active);

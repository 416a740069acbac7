/**
 * A Transport carries opaque frames between the devices of one room (a team's room, or an invite's room).
 * It knows nothing of ledgers, keys or encryption: frames are already sealed when they reach it, and anything
 * it delivers is attacker-controlled until the session layer has opened it.
 *
 * Frames are broadcast to every other member of the room; each frame's cleartext header (frame.ts) names the
 * sending connection and the addressed one (or all), so a point-to-point transport (WebRTC data channels) can
 * route by reading `frameTarget(frame)`. Adapters: adapters/transport/websocket.ts (the relay),
 * broadcast.ts (tabs of one browser); tests use memoryRoom() below.
 */
export interface Transport {
  /** Sends one frame to the room (best effort; the session layer detects loss as a sequence gap). */
  send(frame: Uint8Array): void;
  /** Receives every frame others send to the room. Only one handler: set it before frames can arrive. */
  onFrame(handler: (frame: Uint8Array) => void): void;
  /** Called once when the transport closes (by either side). */
  onClose(handler: (reason: string) => void): void;
  close(): void;
}

/** An in-memory room for tests: every transport it makes hears the frames of the others, in order. */
export function memoryRoom(): { join(): Transport; frames: Uint8Array[] } {
  const members = new Set<{ deliver: (f: Uint8Array) => void; closed: () => void }>();
  const frames: Uint8Array[] = [];
  return {
    frames,
    join(): Transport {
      let handler: (f: Uint8Array) => void = () => {};
      let onClose: (r: string) => void = () => {};
      const me = { deliver: (f: Uint8Array) => handler(f), closed: () => onClose('closed') };
      members.add(me);
      return {
        send(frame) {
          if (!members.has(me)) return;
          frames.push(frame);
          const copy = frame.slice();
          for (const m of members) if (m !== me) queueMicrotask(() => m.deliver(copy));
        },
        onFrame: (h) => (handler = h),
        onClose: (h) => (onClose = h),
        close() {
          if (members.delete(me)) me.closed();
        }
      };
    }
  };
}

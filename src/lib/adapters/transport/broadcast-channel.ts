/**
 * Transport between the tabs (and workers) of one browser: a BroadcastChannel named after the room. Every
 * context of the same origin that opens the same room hears the others' frames (never its own). The channel
 * is local to the browser, but frames are sealed like any other (the session layer does not trust it).
 * Works wherever BroadcastChannel exists: pages, dedicated workers, Node 18+.
 */
import type { Transport } from '../../core/sync/transport.ts';
import { MAX_FRAME } from '../../core/sync/frame.ts';

export const CHANNEL_PREFIX = 'provenance-ledger/room/';

export function connectBroadcastChannel(
  room: string,
  Channel: typeof BroadcastChannel = globalThis.BroadcastChannel
): Transport {
  if (typeof Channel !== 'function') throw new Error('BroadcastChannel is not available here');
  const ch = new Channel(CHANNEL_PREFIX + room);
  let onFrame: (f: Uint8Array) => void = () => {};
  let onClose: (reason: string) => void = () => {};
  let closed = false;
  ch.onmessage = (e: MessageEvent) => {
    if (closed) return;
    const d: unknown = e.data;
    // Only binary frames within the size limit; anything else another script posts is ignored.
    if (d instanceof Uint8Array && d.length <= MAX_FRAME) onFrame(d);
    else if (d instanceof ArrayBuffer && d.byteLength <= MAX_FRAME) onFrame(new Uint8Array(d));
  };
  return {
    send(frame) {
      if (!closed) ch.postMessage(frame);
    },
    onFrame: (h) => (onFrame = h),
    onClose: (h) => (onClose = h),
    close() {
      if (closed) return;
      closed = true;
      ch.close();
      onClose('closed');
    }
  };
}

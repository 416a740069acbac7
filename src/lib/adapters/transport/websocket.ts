/**
 * Transport over the WebSocket relay (src/relay/server.ts): one connection per room, at <relay>/room/<id>.
 * Uses the standard WebSocket class (browsers; Node 22's global), so the browser and the CLI share it.
 * The relay only ever sees the room id and sealed frames.
 */
import type { Transport } from '../../core/sync/transport.ts';

export const ROOM_RE = /^[A-Za-z0-9_-]{8,64}$/;

export function roomUrl(relay: string, room: string): string {
  if (!ROOM_RE.test(room)) throw new TypeError('invalid room id');
  return `${relay.replace(/\/+$/, '')}/room/${room}`;
}

/** Connects to the relay's room; resolves once the connection is open. */
export function connectRelay(relay: string, room: string, opts: { timeoutMs?: number } = {}): Promise<Transport> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(roomUrl(relay, room));
    } catch (e) {
      reject(e);
      return;
    }
    ws.binaryType = 'arraybuffer';
    let onFrame: (f: Uint8Array) => void = () => {};
    let onClose: (reason: string) => void = () => {};
    let opened = false;
    const timer = setTimeout(() => {
      if (!opened) {
        ws.close();
        reject(new Error(`no answer from the relay at ${relay}`));
      }
    }, opts.timeoutMs ?? 10_000);
    ws.onmessage = (e) => {
      if (e.data instanceof ArrayBuffer) onFrame(new Uint8Array(e.data));
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      if (!opened) reject(new Error(`the relay at ${relay} refused the connection (${e.code} ${e.reason})`));
      onClose(`relay closed the connection (${e.code}${e.reason ? ` ${e.reason}` : ''})`);
    };
    ws.onerror = () => {};
    ws.onopen = () => {
      opened = true;
      clearTimeout(timer);
      resolve({
        send(frame) {
          if (ws.readyState === WebSocket.OPEN) ws.send(frame as Uint8Array<ArrayBuffer>);
        },
        onFrame: (h) => (onFrame = h),
        onClose: (h) => (onClose = h),
        close: () => ws.close()
      });
    };
  });
}

/**
 * Transport over the WebSocket relay (src/relay/server.ts): one connection per room, at <relay>/room/<id>.
 * Uses the standard WebSocket class (browsers; Node 22's global), so the browser and the CLI share it.
 * The relay only ever sees the room id and sealed frames.
 */
import type { Transport } from '../../core/sync/transport.ts';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import { peerText } from '../../core/text.ts';

export const ROOM_RE = /^[A-Za-z0-9_-]{8,64}$/;

export function roomUrl(relay: string, room: string): string {
  if (!ROOM_RE.test(room)) throw new TypeError('invalid room id');
  return `${relay.replace(/\/+$/, '')}/room/${room}`;
}

/** Connects to the relay's room; resolves once the connection is open. */
export function connectRelay(relay: string, room: string, opts: { timeoutMs?: number } = {}): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const url = roomUrl(relay, room);
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      reject(new LedgerError(ErrorCode.BAD_INPUT, `not a relay address (ws:// or wss://): ${peerText(relay, 200)} (${(e as Error).message})`, { cause: e }));
      return;
    }
    ws.binaryType = 'arraybuffer';
    let onFrame: (f: Uint8Array) => void = () => {};
    let onClose: (reason: string) => void = () => {};
    let opened = false;
    const timer = setTimeout(() => {
      if (!opened) {
        ws.close();
        reject(new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `no answer from the relay at ${relay}: is it running (npm run relay) and reachable?`));
      }
    }, opts.timeoutMs ?? 10_000);
    ws.onmessage = (e) => {
      if (e.data instanceof ArrayBuffer) onFrame(new Uint8Array(e.data));
    };
    let ended = false;
    /** Reports the end once, whichever event says so first (Node's WebSocket may fire error without close). */
    const end = (why: string, unreachable: string) => {
      clearTimeout(timer);
      if (ended) return;
      ended = true;
      if (!opened) reject(new LedgerError(ErrorCode.REMOTE_UNREACHABLE, unreachable));
      else onClose(why);
    };
    ws.onclose = (e) => {
      // The close reason comes from the other side: shown as one line without control characters.
      const reason = e.reason ? ` ${peerText(e.reason, 200)}` : '';
      end(`relay closed the connection (${e.code}${reason})`, `the relay at ${relay} refused the connection (${e.code}${reason})`);
    };
    ws.onerror = () => end('the connection to the relay failed', `could not connect to the relay at ${relay}: is it running (npm run relay) and reachable?`);
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

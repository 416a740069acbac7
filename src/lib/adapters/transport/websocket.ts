/**
 * Transport over the WebSocket relay (src/relay/server.ts): one connection per room, at <relay>/room/<id>.
 * Uses the standard WebSocket class (browsers; Node 22's global), so the browser and the CLI share it.
 * The relay only ever sees the room id and sealed frames.
 *
 * Admission (ledger-schema/README.md section 19): the relay's first message is a text challenge; this device
 * answers with the room key's signature over it (core/sync/room.ts) and resolves once the relay says it is
 * admitted. A relay that closes the connection before (room full, too many rooms from this address, a proof
 * refused) is REMOTE_REJECTED with the relay's close code and reason, shown as one line.
 */
import type { Transport } from '../../core/sync/transport.ts';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import { peerText } from '../../core/text.ts';
import { fromBase64url } from '../../core/bytes.ts';
import { admission, CHALLENGE_LEN, ROOM_ID_RE, type RoomKey } from '../../core/sync/room.ts';

export const ROOM_RE = ROOM_ID_RE;

export function roomUrl(relay: string, room: string): string {
  if (!ROOM_RE.test(room)) throw new TypeError('invalid room id');
  return `${relay.replace(/\/+$/, '')}/room/${room}`;
}

/** The relay's close code and reason when it refused a connection (LedgerError.detail of REMOTE_REJECTED). */
export interface RelayRefusal {
  closeCode: number;
  reason: string;
}

/** Connects to the relay's room and proves the room key; resolves once the relay has admitted the connection. */
export function connectRelay(relay: string, room: RoomKey, opts: { timeoutMs?: number } = {}): Promise<Transport> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(roomUrl(relay, room.id));
    } catch (e) {
      reject(
        new LedgerError(
          ErrorCode.BAD_INPUT,
          `not a relay address (ws:// or wss://): ${peerText(relay, 200)} (${(e as Error).message})`,
          { cause: e }
        )
      );
      return;
    }
    ws.binaryType = 'arraybuffer';
    let onFrame: (f: Uint8Array) => void = () => {};
    let onClose: (reason: string) => void = () => {};
    let opened = false;
    let admitted = false;
    let proved = false;
    const timer = setTimeout(() => {
      if (!admitted) {
        ws.close();
        end(
          '',
          opened
            ? `the relay at ${relay} did not admit the connection in time (a relay older than this app sends no challenge: update it)`
            : `no answer from the relay at ${relay}: is it running (npm run relay) and reachable?`
        );
      }
    }, opts.timeoutMs ?? 10_000);
    let ended = false;
    /** Reports the end once, whichever event says so first (Node's WebSocket may fire error without close). */
    const end = (why: string, unreachable: string, refusal?: RelayRefusal) => {
      clearTimeout(timer);
      if (ended) return;
      ended = true;
      if (!admitted) {
        reject(
          refusal
            ? new LedgerError(ErrorCode.REMOTE_REJECTED, unreachable, { detail: refusal })
            : new LedgerError(ErrorCode.REMOTE_UNREACHABLE, unreachable)
        );
      } else onClose(why);
    };
    const refuse = (why: string) => {
      ws.close();
      end('', `the relay at ${relay} ${why}`);
    };
    ws.onmessage = (e) => {
      if (admitted) {
        if (e.data instanceof ArrayBuffer) onFrame(new Uint8Array(e.data));
        return;
      }
      // Admission: a challenge, then "admitted". Anything else from the relay ends the attempt.
      let m: { challenge?: unknown; admitted?: unknown };
      try {
        m = typeof e.data === 'string' ? JSON.parse(e.data) : {};
      } catch {
        m = {};
      }
      if (!proved && typeof m.challenge === 'string') {
        let challenge: Uint8Array;
        try {
          challenge = fromBase64url(m.challenge);
        } catch {
          return refuse('sent a challenge that is not base64url');
        }
        if (challenge.length !== CHALLENGE_LEN) return refuse('sent a challenge of the wrong length');
        proved = true;
        void room.prove(challenge).then(
          (p) => ws.readyState === WebSocket.OPEN && ws.send(admission.proof(p)),
          () => refuse('challenge could not be answered')
        );
      } else if (proved && m.admitted === true) {
        admitted = true;
        clearTimeout(timer);
        resolve({
          send(frame) {
            if (ws.readyState === WebSocket.OPEN) ws.send(frame as Uint8Array<ArrayBuffer>);
          },
          onFrame: (h) => (onFrame = h),
          onClose: (h) => (onClose = h),
          close: () => ws.close()
        });
      } else refuse('did not follow the admission protocol (is it a provenance-ledger relay of this version?)');
    };
    ws.onclose = (e) => {
      // The close reason comes from the other side: shown as one line without control characters.
      const text = e.reason ? peerText(e.reason, 200) : '';
      const reason = text ? ` ${text}` : '';
      const refused = opened && e.code !== 1006 ? { closeCode: e.code, reason: text } : undefined;
      end(
        `relay closed the connection (${e.code}${reason})`,
        `the relay at ${relay} refused the connection (${e.code}${reason})`,
        refused
      );
    };
    ws.onerror = () =>
      end(
        'the connection to the relay failed',
        `could not connect to the relay at ${relay}: is it running (npm run relay) and reachable?`
      );
    ws.onopen = () => {
      opened = true;
    };
  });
}

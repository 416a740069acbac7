/**
 * The page half of WebRTC sync. RTCPeerConnection exists only on the page, the SyncHub and the team key only
 * in the worker: this joins them with a MessagePort. The page's WebRtcMesh sends the worker's sealed frames
 * over data channels and hands back what arrives; its signaling messages go to the worker, which seals them
 * with the team key and passes them through the relay (team.ts). The page never sees the team key.
 */
import { WebRtcMesh, parseSignal, type SignalMessage, type Signaling } from '../adapters/transport/webrtc.ts';
import type { BridgeMessage } from './team-protocol.ts';

export interface WebRtcBridge {
  /** The port to transfer to the worker with the team-sync request. */
  port: MessagePort;
  /** The current mesh (a new one after each team key change). */
  readonly mesh: WebRtcMesh;
  close(): void;
}

export function startWebRtcBridge(): WebRtcBridge {
  const channel = new MessageChannel();
  const port = channel.port1;
  let sigHandler: (m: SignalMessage) => void = () => {};
  const post = (m: BridgeMessage) => port.postMessage(m);
  const signaling: Signaling = {
    send: (msg) => post({ t: 'sig', msg }),
    onMessage: (h) => (sigHandler = h),
    close: () => undefined
  };
  const newMesh = () => {
    const m = new WebRtcMesh(signaling, { onPeers: (ids) => post({ t: 'peers', ids }) });
    m.onFrame((frame) => post({ t: 'frame', frame }));
    return m;
  };
  let mesh = newMesh();
  let closed = false;
  port.onmessage = (e: MessageEvent) => {
    const m = e.data as BridgeMessage;
    if (closed || typeof m !== 'object' || m === null) return;
    if (m.t === 'frame' && m.frame instanceof Uint8Array) mesh.send(m.frame);
    else if (m.t === 'sig') {
      const s = parseSignal(m.msg);
      if (s) sigHandler(s);
    } else if (m.t === 'ready') mesh.start();
    else if (m.t === 'restart') {
      // A new team key epoch: connections made under the old one (a removed device's among them) are dropped.
      mesh.close();
      mesh = newMesh();
    } else if (m.t === 'stop') close();
  };
  const close = () => {
    if (closed) return;
    closed = true;
    mesh.close();
    port.close();
  };
  return {
    port: channel.port2,
    get mesh() {
      return mesh;
    },
    close
  };
}

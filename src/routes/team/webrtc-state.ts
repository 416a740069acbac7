/** The page's WebRTC bridge outlives the Team page (sync keeps running while other pages are open). */
import type { WebRtcBridge } from '#lib/engine/team-bridge.ts';

export const webrtc: { bridge?: WebRtcBridge } = {};

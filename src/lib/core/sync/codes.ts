/**
 * Stable codes for what sync refuses, beyond the per-event codes of errors.ts (which sync reports too:
 * SIGNATURE_INVALID, AUTHOR_REMOVED...). Never rename: the CLI, the UI and scripts match on them.
 */
export const SyncCode = {
  /** Bytes that are not an Automerge sync message, or a change Automerge cannot decode. */
  SYNC_MALFORMED: 'SYNC_MESSAGE_MALFORMED',
  /** A change that does something other than put one event (an immutable string under its id) at the root. */
  CHANGE_NOT_EVENT: 'CHANGE_NOT_EVENT',
  /** A change holding at least one event that does not count: refused whole. */
  CHANGE_INVALID: 'CHANGE_INVALID',
  /** A change that builds on a refused change. */
  CHANGE_DEPENDS_ON_REJECTED: 'CHANGE_DEPENDS_ON_REJECTED',
  /** A frame that cannot be parsed or authenticated (forged, truncated, wrong key). */
  FRAME_INVALID: 'FRAME_INVALID',
  /** A frame over the size limit (or a message over the message limit). */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** A frame whose sequence number is not the next one: replayed, reordered or lost. */
  FRAME_REPLAYED: 'FRAME_REPLAYED',
  /** The membership proof failed: bad signature, wrong transcript. */
  AUTH_FAILED: 'AUTH_FAILED',
  /** The peer's device key is not in this device's roster. */
  PEER_NOT_MEMBER: 'PEER_NOT_MEMBER',
  /** The peer's device key was removed from the team. */
  PEER_REMOVED: 'PEER_REMOVED',
  /** A peer that kept sending invalid data: its frames are ignored from now on. */
  PEER_DISCONNECTED: 'PEER_DISCONNECTED',
  /** A protocol message out of place (data before the membership proof, an unknown type). */
  PROTOCOL: 'PROTOCOL_VIOLATION',
  /** A team key from a peer that may not issue one. */
  TEAM_KEY_REFUSED: 'TEAM_KEY_REFUSED'
} as const;
export type SyncCode = (typeof SyncCode)[keyof typeof SyncCode];

/**
 * The hub's Automerge sync (hub.ts): a peer's sync messages received into a shadow copy and handed to
 * Ledger.applyVerifiedChanges, this device's answers (pump), signed tree heads offered and received, and the
 * per-peer sync states saved under sync/<key id>.
 */
import * as A from '@automerge/automerge/slim';
import { concatBytes, fromHex, fromUtf8, toHex, utf8 } from '../bytes.ts';
import { MAX_FRAGMENT } from './frame.ts';
import { SyncCode } from './codes.ts';
import { MSG_SIGNED_HEAD, MSG_SYNC, sendSealed, strike, type HubCore, type Session } from './hub-session.ts';
import { scheduleWitness, witnessLog } from './hub-witness.ts';

/** The most leaf ids one signed-head message carries (it fits one frame); a longer stretch is not offered. */
const MAX_HEAD_IDS = Math.floor((MAX_FRAGMENT - 1024 * 16) / 32);
/**
 * The fewest new leaves worth a signed head: below it the peer checks the few events one by one (cheaper than a
 * checkpoint signed here and checked there), and a sync of one event waits on no log.
 */
const MIN_HEAD_IDS = 64;

export async function onSync(h: HubCore, s: Session, msg: Uint8Array): Promise<void> {
  const ledger = h.o.ledger;
  let shadow = s.shadow ?? A.clone(ledger.doc as A.Doc<unknown>);
  if (!A.hasHeads(shadow, A.getHeads(ledger.doc))) shadow = A.merge(shadow, ledger.doc as A.Doc<unknown>);
  let next: A.Doc<unknown>;
  let state: A.SyncState;
  try {
    A.decodeSyncMessage(msg);
    [next, state] = A.receiveSyncMessage(shadow, s.syncState, msg);
  } catch (e) {
    s.shadow = undefined;
    s.syncState = A.initSyncState();
    strike(h, s, SyncCode.SYNC_MALFORMED, `not an Automerge sync message: ${(e as Error).message}`);
    return pump(h, s);
  }
  const changes = A.getChanges(shadow, next);
  if (changes.length > 0) {
    const r = await ledger.applyVerifiedChanges(changes, { heads: s.heads });
    if (r.accepted.length)
      h.report({
        type: 'accepted',
        conn: s.hex,
        peer: s.peer!,
        events: r.accepted,
        ...(r.covered ? { covered: r.covered } : {})
      });
    if (r.rejected.length) {
      for (const p of r.problems)
        h.report({ type: 'rejected', conn: s.hex, peer: s.peer, code: p.code, message: p.message, eventId: p.eventId });
      const first = r.rejected[0];
      strike(
        h,
        s,
        first.code,
        `${r.rejected.length} change(s) refused: ${first.message}; the peer's sync messages are ignored for the rest of this session`
      );
      // The peer holds a change this device will never take, so the two documents cannot converge in this
      // session: Automerge would offer it again and again. The peer is answered once (this device's heads, from
      // a fresh sync state) and its sync messages are ignored from now on; the next session tries again.
      s.shadow = undefined;
      s.syncState = A.initSyncState();
      s.refusedOnce = true;
      if (r.accepted.length) return pumpAll(h);
      return pump(h, s);
    }
    if (r.accepted.length) {
      s.shadow = next;
      s.syncState = state;
      scheduleSave(h);
      return pumpAll(h);
    }
  }
  s.shadow = next;
  s.syncState = state;
  scheduleSave(h);
  return pump(h, s);
}

export async function pumpAll(h: HubCore): Promise<void> {
  for (const s of h.sessions.values()) if (s.authed && !s.dead) await pump(h, s);
}

/** Sends whatever the sync protocol has to say to this peer (from the real document only). */
export async function pump(h: HubCore, s: Session): Promise<void> {
  if (s.dead || h.closed) return;
  await offerHead(h, s);
  if (s.dead || h.closed) return;
  const [state, msg] = A.generateSyncMessage(h.o.ledger.doc, s.syncState);
  s.syncState = state;
  if (!msg) return;
  s.sent++;
  scheduleWitness(h, s);
  for (let i = 0; i < msg.length || i === 0; i += MAX_FRAGMENT) {
    const part = msg.subarray(i, i + MAX_FRAGMENT);
    const more = i + MAX_FRAGMENT < msg.length ? 1 : 0;
    void sendSealed(h, s, concatBytes(new Uint8Array([MSG_SYNC, more]), part));
  }
}

/**
 * Sends the peer this device's signed tree head when its log has grown by MIN_HEAD_IDS leaves or more since the
 * last one sent in this session (signing a checkpoint of the log's size unless one is stored), with the leaf ids
 * the peer has not been sent.
 * The peer's receipt of this device's events under it then checks one signature instead of one per event.
 */
async function offerHead(h: HubCore, s: Session): Promise<void> {
  const log = await witnessLog(h);
  if (!log?.eventIdAt || !s.authed || log.size - s.headSent < (h.o.signedHeadMin ?? MIN_HEAD_IDS)) return;
  const start = s.headSent;
  let note: string;
  try {
    note = await log.checkpoint(h.o.ledger.id, h.o.signer);
  } catch {
    return; // a log that cannot sign offers nothing; its events are checked one by one
  }
  const size = Number(note.split('\n', 2)[1]);
  if (!Number.isSafeInteger(size) || size <= start || size - start > MAX_HEAD_IDS || size > log.size) return;
  const text = utf8(note);
  const out = new Uint8Array(1 + 8 + text.length + 32 * (size - start));
  out[0] = MSG_SIGNED_HEAD;
  const view = new DataView(out.buffer);
  view.setUint32(1, start);
  view.setUint32(5, text.length);
  out.set(text, 9);
  for (let i = start, o = 9 + text.length; i < size; i++, o += 32) out.set(fromHex(log.eventIdAt(i)), o);
  s.headSent = size;
  await sendSealed(h, s, out);
}

/** A peer's signed tree head: kept for its next sync message (checked there, against what arrives). */
export function onSignedHead(h: HubCore, s: Session, b: Uint8Array): void {
  if (b.length < 8) return strike(h, s, SyncCode.PROTOCOL, 'a signed tree head message too short');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const start = view.getUint32(0);
  const len = view.getUint32(4);
  if (8 + len > b.length || (b.length - 8 - len) % 32 !== 0)
    return strike(h, s, SyncCode.PROTOCOL, 'a malformed signed tree head message');
  let note: string;
  try {
    note = fromUtf8(b.subarray(8, 8 + len));
  } catch {
    return strike(h, s, SyncCode.PROTOCOL, 'a signed tree head whose note is not UTF-8');
  }
  const ids: string[] = [];
  for (let o = 8 + len; o < b.length; o += 32) ids.push(toHex(b.subarray(o, o + 32)));
  // One that does not continue the head checked before covers nothing (its events are checked one by one).
  s.heads?.offer(start, ids, note);
}

function scheduleSave(h: HubCore): void {
  if (h.saveTimer) return;
  h.saveTimer = setTimeout(() => {
    h.saveTimer = undefined;
    void saveStates(h).catch(() => undefined);
  }, 200);
}

export async function saveStates(h: HubCore): Promise<void> {
  if (h.saveTimer) {
    clearTimeout(h.saveTimer);
    h.saveTimer = undefined;
  }
  for (const s of h.sessions.values()) {
    if (s.authed && s.keyId) await h.o.storage.save(['sync', s.keyId], A.encodeSyncState(s.syncState));
  }
}

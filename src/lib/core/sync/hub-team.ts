/**
 * The hub's team messages (hub.ts): a newer team key handed to members on an older epoch, and the removal
 * notice shown to a removed device.
 */
import { concatBytes, fromUtf8 } from '../bytes.ts';
import { decodeTeamKey, encodeTeamKey } from '../team/teamkey.ts';
import { checkRemovalNotice } from '../team/removal.ts';
import { SyncCode } from './codes.ts';
import { MSG_TEAM_KEY, sendSealed, strike, type HubCore, type Session } from './hub-session.ts';

export async function offerTeamKey(h: HubCore, s: Session): Promise<void> {
  const newest = h.o.newestTeamKey?.();
  const me = h.o.ledger.member(h.o.signer.publicKey);
  if (!newest || newest.epoch <= s.hello!.epoch || !me?.active || (me.role !== 'owner' && me.role !== 'admin')) return;
  await sendSealed(h, s, concatBytes(new Uint8Array([MSG_TEAM_KEY]), encodeTeamKey(newest)));
  h.report({ type: 'team-key', conn: s.hex, peer: s.peer!, epoch: newest.epoch });
}

export async function onTeamKey(h: HubCore, s: Session, b: Uint8Array): Promise<void> {
  const k = decodeTeamKey(b);
  const sender = h.o.ledger.member(s.peer!);
  if (!k || !sender?.active || (sender.role !== 'owner' && sender.role !== 'admin')) {
    return strike(h, s, SyncCode.TEAM_KEY_REFUSED, 'a team key from a peer that may not issue one');
  }
  const newest = h.o.newestTeamKey?.();
  if (newest && k.epoch <= newest.epoch) return;
  await h.o.onTeamKey?.(k);
  h.report({ type: 'team-key', conn: s.hex, peer: s.peer!, epoch: k.epoch });
}

/** A removal notice: believed only when it is a valid removal of this device's key by an owner or admin of this roster. */
export async function onRemoved(h: HubCore, s: Session, b: Uint8Array): Promise<void> {
  let json: string;
  try {
    json = fromUtf8(b);
  } catch {
    json = '';
  }
  const removal = await checkRemovalNotice(h.o.ledger, json, h.o.signer.publicKey);
  if (!removal) return strike(h, s, SyncCode.PROTOCOL, 'a removal notice that is not a valid removal of this device');
  h.report({ type: 'removed', conn: s.hex, peer: s.peer!, removal });
}

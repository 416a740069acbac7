/**
 * Witnessing at sync (hub.ts; ledger-schema/README.md section 19): the debounced request that a peer cosign
 * this device's checkpoint, the peer's answer, and the witness side that checks and cosigns a peer's checkpoint.
 */
import { concatBytes } from '../bytes.ts';
import { SyncCode } from './codes.ts';
import { ProofCode, isProofError } from '../proofs/errors.ts';
import { parseWitnessResponse } from '../proofs/witness.ts';
import { peerText } from '../text.ts';
import {
  acceptCosigned,
  answerSyncWitnessRequest,
  encodeWitnessResponse,
  makeSyncWitnessRequest,
  type WitnessLog
} from '../proofs/witness-sync.ts';
import {
  MSG_WITNESS_REQUEST,
  MSG_WITNESS_RESPONSE,
  sendSealed,
  strike,
  type HubCore,
  type Session
} from './hub-session.ts';

/** Quiet time on a session before this device asks the peer to witness its log. */
const WITNESS_DELAY_MS = 300;
/** A request the peer has not answered in this time is dropped. */
const WITNESS_TIMEOUT_MS = 15_000;
/** Witness requests a peer may send: a burst of 20, then one every 2 s. */
export const WITNESS_BURST = 20;
const WITNESS_REFILL_MS = 2000;

/** This device's log (attached on first use when given as a function); undefined without one. */
export function witnessLog(h: HubCore): Promise<WitnessLog | undefined> {
  const l = h.o.log;
  if (!l) return Promise.resolve(undefined);
  if (typeof l !== 'function') return Promise.resolve(l);
  h.logP ??= l().catch((e) => {
    h.logP = undefined;
    h.report({
      type: 'rejected',
      conn: '?',
      code: isProofError(e) ? e.code : ProofCode.LOG_CORRUPT,
      message: `this device's log cannot be opened for witnessing: ${(e as Error).message}`
    });
    return undefined;
  });
  return h.logP;
}

function peerName(h: HubCore, s: Session): string {
  return h.o.ledger.member(s.peer!)?.name ?? `${s.peer!.slice(0, 12)}…`;
}

/** (Re)starts the debounce: once the session has been quiet for the delay, ask the peer to witness the log. */
export function scheduleWitness(h: HubCore, s: Session): void {
  if (!h.o.log || s.dead || h.closed || !s.authed) return;
  if (s.witnessMaking || s.witnessOut) {
    s.witnessAgain = true;
    return;
  }
  if (s.witnessTimer) clearTimeout(s.witnessTimer);
  s.witnessTimer = setTimeout(() => {
    s.witnessTimer = undefined;
    s.witnessMaking = true;
    h.inbox = h.inbox
      .then(() => requestWitness(h, s))
      .catch((e) =>
        h.report({
          type: 'rejected',
          conn: s.hex,
          peer: s.peer,
          code: isProofError(e) ? e.code : SyncCode.PROTOCOL,
          message: `witnessing: ${(e as Error).message}`
        })
      )
      .finally(() => {
        s.witnessMaking = false;
        if (!s.witnessOut) witnessDone(h, s);
      });
  }, h.o.witnessDelayMs ?? WITNESS_DELAY_MS);
}

export function stopWitness(s: Session): void {
  if (s.witnessTimer) clearTimeout(s.witnessTimer);
  if (s.witnessOut) clearTimeout(s.witnessOut.timer);
  s.witnessTimer = undefined;
  s.witnessOut = undefined;
  s.witnessAgain = false;
}

/** An exchange ended: run again if the log grew meanwhile. */
function witnessDone(h: HubCore, s: Session): void {
  if (!s.witnessAgain) return;
  s.witnessAgain = false;
  scheduleWitness(h, s);
}

/** Sends the peer a checkpoint of this device's log to cosign (when it lacks that peer's cosignature). */
async function requestWitness(h: HubCore, s: Session, from?: number): Promise<void> {
  if (s.dead || h.closed) return;
  const log = await witnessLog(h);
  if (!log) return;
  const req = await makeSyncWitnessRequest({
    ledgerId: h.o.ledger.id,
    log,
    signer: h.o.signer,
    witnessKey: s.peer!,
    from
  });
  if (!req || s.dead || h.closed) return;
  const timer = setTimeout(() => {
    if (s.witnessOut?.timer !== timer) return;
    s.witnessOut = undefined;
    if (!s.dead && !h.closed) h.report({ type: 'witness-unanswered', conn: s.hex, peer: s.peer!, size: req.size });
    witnessDone(h, s);
  }, h.o.witnessTimeoutMs ?? WITNESS_TIMEOUT_MS);
  s.witnessOut = { req, retried: from !== undefined, timer };
  await sendSealed(h, s, concatBytes(new Uint8Array([MSG_WITNESS_REQUEST]), req.bytes));
}

/** The witness side: check the peer's checkpoint, cosign it or refuse it, and answer. */
export async function onWitnessRequest(h: HubCore, s: Session, body: Uint8Array): Promise<void> {
  const now = Date.now();
  s.witnessTokens = Math.min(WITNESS_BURST, s.witnessTokens + (now - s.witnessRefilled) / WITNESS_REFILL_MS);
  s.witnessRefilled = now;
  if (s.witnessTokens < 1) {
    return strike(h, s, SyncCode.PROTOCOL, `witness requests faster than one every ${WITNESS_REFILL_MS / 1000} s`);
  }
  s.witnessTokens -= 1;
  const a = await answerSyncWitnessRequest({
    ledgerId: h.o.ledger.id,
    storage: h.o.storage,
    signer: h.o.signer,
    peerKey: s.peer!,
    peerActive: !!h.o.ledger.member(s.peer!)?.active,
    bytes: body
  });
  if (a.response)
    await sendSealed(h, s, concatBytes(new Uint8Array([MSG_WITNESS_RESPONSE]), encodeWitnessResponse(a.response)));
  if (a.outcome === 'cosigned') return h.report({ type: 'cosigned', conn: s.hex, peer: s.peer!, size: a.size! });
  if (a.outcome !== 'refused') return;
  const e = a.error!;
  const message = `not cosigned: ${peerName(h, s)}'s checkpoint${a.size ? ` of size ${a.size}` : ''}: ${e.message}${e.evidence ? ` (both signed checkpoints are kept under ${e.evidence})` : ''}`;
  if (a.hostile) return strike(h, s, e.code, message);
  h.report({ type: 'rejected', conn: s.hex, peer: s.peer, code: e.code, message });
}

/** The log side: the peer's answer to this device's request. */
export async function onWitnessResponse(h: HubCore, s: Session, body: Uint8Array): Promise<void> {
  let r;
  try {
    r = parseWitnessResponse(body);
  } catch (e) {
    return strike(h, s, ProofCode.WITNESS_RESPONSE_INVALID, (e as Error).message);
  }
  const out = s.witnessOut;
  if (!out || r.size !== out.req.size) {
    return strike(
      h,
      s,
      SyncCode.PROTOCOL,
      `a witness response for a checkpoint of size ${r.size}, which this device did not ask to be cosigned`
    );
  }
  clearTimeout(out.timer);
  s.witnessOut = undefined;
  try {
    if ('need' in r) {
      if (!out.retried) return await requestWitness(h, s, r.need);
      return h.report({
        type: 'rejected',
        conn: s.hex,
        peer: s.peer,
        code: ProofCode.WITNESS_REFUSED,
        message: `${peerName(h, s)} asked again for a consistency proof (from size ${r.need}): not cosigned`
      });
    }
    if ('refused' in r) {
      return h.report({
        type: 'rejected',
        conn: s.hex,
        peer: s.peer,
        code: ProofCode.WITNESS_REFUSED,
        message: `${peerName(h, s)} refused to cosign this device's checkpoint of size ${r.size}: [${r.refused.code}] ${peerText(r.refused.message)}`
      });
    }
    const log = await witnessLog(h);
    if (!log) return;
    try {
      const c = await acceptCosigned({
        ledgerId: h.o.ledger.id,
        log,
        logKey: h.o.signer.publicKey,
        witnessKey: s.peer!,
        sent: out.req,
        note: r.cosigned
      });
      h.report({ type: 'witnessed', conn: s.hex, peer: s.peer!, size: c.size, time: c.timestamp });
    } catch (e) {
      if (!isProofError(e, ProofCode.WITNESS_RESPONSE_INVALID)) throw e;
      strike(h, s, e.code, e.message);
    }
  } finally {
    if (!s.witnessOut && !s.witnessMaking) witnessDone(h, s);
  }
}

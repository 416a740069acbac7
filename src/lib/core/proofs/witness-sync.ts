/**
 * Witnessing at sync (ledger-schema/README.md section 19): the two halves of the exchange SyncHub runs with each
 * authenticated peer, over values and small interfaces only (no transport, no platform), built on witness.ts:
 *
 *   log side      makeSyncWitnessRequest  a fresh checkpoint of this device's log (signed when the log grew) and a
 *                                         witness request (witness.ts format) with the consistency proof from the
 *                                         checkpoint that peer cosigned last
 *                 acceptCosigned          checks the cosigned note that comes back and stores it with the log's
 *                                         checkpoint (DeviceLog.addCosignatures), so that bundles use it
 *   witness side  answerSyncWitnessRequest checks the request against the state kept for that log
 *                                         (witnessCheckpoint) and answers: cosigned, need (a proof from another
 *                                         size), or refused (a fork or rollback is refused and kept as evidence)
 *
 * Everything a peer sends is attacker-controlled: requests and responses are bounded and parsed field by field,
 * and a cosignature is stored only after it verifies under the peer's witness key over the exact checkpoint sent.
 */
import type { Signer } from '../keys.ts';
import type { StorageAdapter } from '../storage.ts';
import { utf8 } from '../bytes.ts';
import { openCheckpoint, parseCheckpoint } from '../merkle/checkpoint.ts';
import { createCosignatureVerifier, cosignaturesOf } from '../merkle/cosignature.ts';
import { createEd25519Verifier, formatNote, parseNote, type NoteVerifier } from '../merkle/note.ts';
import { ProofCode, ProofError } from './errors.ts';
import { logOrigin, logVerifierKey, witnessVerifierKey } from './keys.ts';
import {
  MAX_WITNESS_MESSAGE,
  WITNESS_RESPONSE_FORMAT,
  loadWitnessState,
  makeWitnessRequest,
  parseWitnessRequest,
  saveRefusal,
  saveWitnessState,
  witnessCheckpoint,
  type Refusal,
  type WitnessResponse
} from './witness.ts';

/** What witnessing at sync needs of this device's log (DeviceLog has it all). */
export interface WitnessLog {
  readonly size: number;
  /** Signs a checkpoint of the current tree unless one of this size is stored; returns the stored note. */
  checkpoint(ledgerId: string, signer: Signer): Promise<string>;
  checkpointSizes(): Promise<number[]>;
  checkpointNote(size: number): Promise<string | undefined>;
  consistencyProof(size1: number, size2?: number): Uint8Array[];
  /** Merges the cosignatures of a note into the stored checkpoint with the same text. */
  addCosignatures(note: string): Promise<void>;
  /** Waits for pending appends (optional). */
  settled?(): Promise<void>;
  /** The event id of leaf `index` (optional: a log without it offers no signed tree head at sync). */
  eventIdAt?(index: number): string;
}

/** How many stored checkpoints are searched (newest first) for the last one a witness cosigned. */
const SCAN = 256;

const verifiers = new Map<string, Promise<NoteVerifier>>();
function witnessVerifier(ledgerId: string, witnessKey: string): Promise<NoteVerifier> {
  const k = `${ledgerId} ${witnessKey}`;
  let v = verifiers.get(k);
  if (!v) {
    v = witnessVerifierKey(ledgerId, witnessKey).then(createCosignatureVerifier);
    verifiers.set(k, v);
    if (verifiers.size > 1024) verifiers.delete(verifiers.keys().next().value!);
  }
  return v;
}

/** Per log, per witness key: the newest checkpoint size that witness is known to have cosigned (0: none found). */
const cosignedSizes = new WeakMap<WitnessLog, Map<string, number>>();

/** True when the stored note carries a signature line under the witness's name and key id (stored notes were checked). */
function carries(note: string, v: NoteVerifier): boolean {
  try {
    return parseNote(note).signatures.some((s) => s.name === v.name && s.keyId === v.keyId);
  } catch {
    return false;
  }
}

/** The newest stored checkpoint size of `log` that carries `witnessKey`'s cosignature (searching the newest few). */
export async function newestCosignedBy(
  log: WitnessLog,
  ledgerId: string,
  witnessKey: string
): Promise<number | undefined> {
  const known = cosignedSizes.get(log)?.get(witnessKey);
  if (known !== undefined) return known || undefined; // 0: searched, none found
  const v = await witnessVerifier(ledgerId, witnessKey);
  const sizes = (await log.checkpointSizes()).reverse().slice(0, SCAN);
  for (const size of sizes) {
    const note = await log.checkpointNote(size);
    if (note && carries(note, v)) {
      remember(log, witnessKey, size);
      return size;
    }
  }
  remember(log, witnessKey, 0);
  return undefined;
}

function remember(log: WitnessLog, witnessKey: string, size: number): void {
  let m = cosignedSizes.get(log);
  if (!m) cosignedSizes.set(log, (m = new Map()));
  if ((m.get(witnessKey) ?? 0) < size) m.set(witnessKey, size);
}

export interface OutgoingWitnessRequest {
  /** The checkpoint's size and exact text (the cosigned note must carry the same text). */
  size: number;
  text: string;
  /** The request (witness.ts format), UTF-8 JSON. */
  bytes: Uint8Array;
  /** The size the consistency proof starts from, if any. */
  from?: number;
}

/**
 * The log side: a checkpoint of the log as it is now (signed if the log grew since the newest stored one) and a
 * request for `witnessKey`'s device to cosign it, carrying the consistency proof from `from` (by default the
 * newest checkpoint that device cosigned). Undefined when the log is empty or the checkpoint of this size already
 * carries that device's cosignature.
 */
export async function makeSyncWitnessRequest(args: {
  ledgerId: string;
  log: WitnessLog;
  signer: Signer;
  witnessKey: string;
  from?: number;
}): Promise<OutgoingWitnessRequest | undefined> {
  const { ledgerId, log, signer, witnessKey } = args;
  await log.settled?.();
  if (log.size === 0) return undefined;
  const note = await log.checkpoint(ledgerId, signer);
  const text = parseNote(note).text;
  const { size } = parseCheckpoint(text);
  const v = await witnessVerifier(ledgerId, witnessKey);
  if (args.from === undefined && carries(note, v)) {
    remember(log, witnessKey, size);
    return undefined;
  }
  const from = args.from ?? (await newestCosignedBy(log, ledgerId, witnessKey));
  const proofs = new Map<number, Uint8Array[]>();
  if (from !== undefined && from < size) proofs.set(from, log.consistencyProof(from, size));
  // The checkpoint with the log's own signature only: other teammates' cosignatures are not the witness's business.
  const origin = await logOrigin(ledgerId, signer.publicKey);
  const bare = formatNote({ text, signatures: parseNote(note).signatures.filter((s) => s.name === origin) });
  const request = makeWitnessRequest(bare, await logVerifierKey(ledgerId, signer.publicKey), proofs);
  return { size, text, bytes: utf8(JSON.stringify(request)), from: proofs.size ? from : undefined };
}

/**
 * The log side: checks the note a witness sent back (signed by this log over exactly the checkpoint sent,
 * cosigned by `witnessKey`'s witness key) and merges that one cosignature into the stored checkpoint (any other
 * signature on the note is left out). Throws WITNESS_RESPONSE_INVALID and stores nothing otherwise. Returns the
 * cosignature's time.
 */
export async function acceptCosigned(args: {
  ledgerId: string;
  log: WitnessLog;
  /** This device's public key (the log's). */
  logKey: string;
  witnessKey: string;
  sent: OutgoingWitnessRequest;
  note: string;
}): Promise<{ size: number; timestamp: number }> {
  const { ledgerId, log, witnessKey, sent, note } = args;
  const bad = (why: string): never => {
    throw new ProofError(
      ProofCode.WITNESS_RESPONSE_INVALID,
      `the cosigned checkpoint of size ${sent.size} is refused: ${why}`
    );
  };
  if (note.length > MAX_WITNESS_MESSAGE) bad(`larger than ${MAX_WITNESS_MESSAGE} bytes`);
  const wv = await witnessVerifier(ledgerId, witnessKey);
  let opened: Awaited<ReturnType<typeof openCheckpoint>>;
  try {
    opened = await openCheckpoint(note, await createEd25519Verifier(await logVerifierKey(ledgerId, args.logKey)), [wv]);
  } catch (e) {
    return bad(`it does not verify (${(e as Error).message})`);
  }
  if (opened.note.text !== sent.text) bad('it is not the checkpoint this device sent');
  const cos = cosignaturesOf(opened.note, [wv]);
  if (cos.length === 0) bad(`it carries no cosignature by the witness key ${wv.name}`);
  const theirs = opened.note.verified.filter((s) => s.name === wv.name && s.keyId === wv.keyId);
  await log.addCosignatures(formatNote({ text: opened.note.text, signatures: theirs }));
  remember(log, witnessKey, sent.size);
  return { size: sent.size, timestamp: cos[0].timestamp };
}

export interface SyncWitnessAnswer {
  /** What to send back; none for a request too malformed to name a checkpoint. */
  response?: WitnessResponse;
  outcome: 'cosigned' | 'need' | 'refused';
  /** The size of the checkpoint answered, when it could be read. */
  size?: number;
  /** Why it was refused; for a fork or rollback, where both signed checkpoints are kept. */
  error?: { code: ProofCode; message: string; evidence?: string };
  /** Malformed, not the peer's own log, or a false signature: counts against the peer. */
  hostile: boolean;
}

/** Witness state reads and writes per storage, one at a time (several hubs can witness the same peer). */
const locks = new WeakMap<StorageAdapter, Promise<unknown>>();
function locked<T>(storage: StorageAdapter, fn: () => Promise<T>): Promise<T> {
  const run = (locks.get(storage) ?? Promise.resolve()).then(fn);
  locks.set(
    storage,
    run.catch(() => undefined)
  );
  return run;
}

const HOSTILE: ReadonlySet<string> = new Set([
  ProofCode.CHECKPOINT_INVALID,
  ProofCode.WITNESS_UNKNOWN_LOG,
  ProofCode.WITNESS_REQUEST_INVALID
]);

/**
 * The witness side: answers one request from an authenticated peer whose device key is `peerKey`. Only a
 * checkpoint of that peer's own log is witnessed, and only while the peer is an active member. Never throws on
 * what the peer sent.
 */
export async function answerSyncWitnessRequest(args: {
  ledgerId: string;
  storage: StorageAdapter;
  signer: Signer;
  peerKey: string;
  peerActive: boolean;
  bytes: Uint8Array;
  now?: () => number;
}): Promise<SyncWitnessAnswer> {
  const { ledgerId, storage, peerKey, bytes } = args;
  const invalid = (code: ProofCode, message: string): SyncWitnessAnswer => ({
    outcome: 'refused',
    error: { code, message },
    hostile: true
  });
  if (bytes.length > MAX_WITNESS_MESSAGE)
    return invalid(
      ProofCode.WITNESS_REQUEST_INVALID,
      `a witness request of ${bytes.length} bytes (limit ${MAX_WITNESS_MESSAGE})`
    );
  let req;
  try {
    req = parseWitnessRequest(bytes);
  } catch (e) {
    return invalid(ProofCode.WITNESS_REQUEST_INVALID, (e as Error).message);
  }
  let size: number;
  try {
    size = parseCheckpoint(parseNote(req.checkpoint).text).size;
  } catch (e) {
    return invalid(
      ProofCode.CHECKPOINT_INVALID,
      `the checkpoint in the witness request is not a checkpoint note: ${(e as Error).message}`
    );
  }
  const refused = (code: ProofCode, message: string, hostile: boolean, evidence?: string): SyncWitnessAnswer => ({
    response: { format: WITNESS_RESPONSE_FORMAT, size, refused: { code, message: message.slice(0, 1000) } },
    outcome: 'refused',
    size,
    error: { code, message, ...(evidence ? { evidence } : {}) },
    hostile
  });
  if (req.logKey !== (await logVerifierKey(ledgerId, peerKey))) {
    return refused(
      ProofCode.WITNESS_UNKNOWN_LOG,
      "the witness request names a log key that is not the peer's own",
      true
    );
  }
  return locked(storage, async () => {
    let previous;
    try {
      previous = await loadWitnessState(storage, ledgerId, peerKey);
    } catch (e) {
      return refused(
        ProofCode.LOG_CORRUPT,
        `this device's witness state for that log cannot be read: ${(e as Error).message}`,
        false
      );
    }
    let proof: string[] = [];
    if (previous && size > previous.size) {
      const p = req.consistency[String(previous.size)];
      if (!p)
        return {
          response: { format: WITNESS_RESPONSE_FORMAT, size, need: previous.size },
          outcome: 'need',
          size,
          hostile: false
        };
      proof = p;
    }
    try {
      const r = await witnessCheckpoint({
        ledgerId,
        memberKeys: args.peerActive ? [peerKey] : [],
        note: req.checkpoint,
        proof,
        previous,
        signer: args.signer,
        now: args.now
      });
      await saveWitnessState(storage, ledgerId, r.state);
      return {
        response: { format: WITNESS_RESPONSE_FORMAT, size, cosigned: r.note },
        outcome: 'cosigned',
        size,
        hostile: false
      };
    } catch (e) {
      if (!(e instanceof ProofError))
        return refused(ProofCode.CHECKPOINT_INVALID, `the checkpoint cannot be checked: ${(e as Error).message}`, true);
      let evidence: string | undefined;
      if ((e.code === ProofCode.WITNESS_FORK || e.code === ProofCode.WITNESS_ROLLBACK) && e.detail) {
        evidence = (
          await saveRefusal(storage, ledgerId, peerKey, e.detail as Refusal, Math.floor(Date.now() / 1000))
        ).join('/');
      }
      return refused(e.code, e.message, HOSTILE.has(e.code), evidence);
    }
  });
}

/** A response's bytes (UTF-8 JSON). */
export const encodeWitnessResponse = (r: WitnessResponse): Uint8Array => utf8(JSON.stringify(r));

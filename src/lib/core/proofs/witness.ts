/**
 * Witnessing (ledger-schema/README.md section 15): a teammate's device cosigns another device's checkpoint
 * (C2SP tlog-cosignature, timestamped Ed25519) only after checking that the log is an extension of the
 * checkpoint it cosigned last, which it keeps per witnessed log. A log that shrank (dropped events) or whose
 * history differs (a fork) is refused, and both signed checkpoints are kept as evidence.
 *
 * Pure functions over values: the CLI (`provenance-ledger witness`) and team sync call them the same way.
 *   1. logKeyFor(...)        which member's log a checkpoint claims to be, from the roster
 *   2. witnessCheckpoint(...) check + cosign, returning the new state to store
 *   3. the log owner merges the cosigned note back (DeviceLog.addCosignatures)
 */
import { fromBase64, toBase64, toBase64url, fromUtf8, utf8 } from '../bytes.ts';
import type { Signer } from '../keys.ts';
import type { StorageAdapter } from '../storage.ts';
import { openCheckpoint, type Checkpoint } from '../merkle/checkpoint.ts';
import { cosignCheckpoint } from '../merkle/cosignature.ts';
import { isMerkleError } from '../merkle/errors.ts';
import { createEd25519Verifier, parseNote, parseVerifierKey } from '../merkle/note.ts';
import { verifyConsistency } from '../merkle/proof.ts';
import { createTreeHasher } from '../merkle/hash.ts';
import { ProofCode, ProofError } from './errors.ts';
import { fingerprint, logOrigin, logVerifierKey, witnessCosigner } from './keys.ts';

/** What a witness remembers about one log: the checkpoint it cosigned last. */
export interface WitnessState {
  origin: string;
  logKey: string;
  size: number;
  /** base64 root hash. */
  root: string;
  /** The checkpoint note as cosigned. */
  note: string;
  /** POSIX seconds of the cosignature. */
  time: number;
}

/** The exchange format between a log and a witness that do not share a directory (section 15). */
export interface WitnessRequest {
  format: typeof WITNESS_REQUEST_FORMAT;
  /** The log's signed checkpoint note. */
  checkpoint: string;
  /** The log's vkey. */
  logKey: string;
  /** Consistency proofs from earlier sizes to the checkpoint's size: size → base64 hashes. */
  consistency: Record<string, string[]>;
}
export const WITNESS_REQUEST_FORMAT = 'provenance-ledger/witness-request/v1';
const MAX_REQUEST_BYTES = 1 << 20;

export interface Refusal {
  code: ProofCode;
  message: string;
  /** The two signed notes that contradict each other (evidence against the log). */
  previous?: string;
  offered: string;
}

/**
 * The vkey of the member whose log signed the note: the signature whose key name is the origin
 * provenance-ledger/<ledger>/<fingerprint> of an active member key. Throws WITNESS_UNKNOWN_LOG otherwise.
 */
export async function logKeyFor(note: string, ledgerId: string, memberKeys: readonly string[]): Promise<string> {
  let names: string[];
  try {
    names = parseNote(note).signatures.map((s) => s.name);
  } catch (e) {
    throw new ProofError(ProofCode.CHECKPOINT_INVALID, `the checkpoint is not a signed note: ${(e as Error).message}`);
  }
  for (const key of memberKeys) {
    const origin = await logOrigin(ledgerId, key);
    if (names.includes(origin)) return logVerifierKey(ledgerId, key);
  }
  throw new ProofError(
    ProofCode.WITNESS_UNKNOWN_LOG,
    `the checkpoint is signed by ${names.join(', ') || 'no key'}, not by the log of an active member of ledger ${ledgerId.slice(0, 16)}`
  );
}

/**
 * Checks a log's checkpoint against what this witness cosigned before and cosigns it. `proof` is the consistency
 * proof from previous.size to the checkpoint's size (base64 hashes; empty when there is no previous state or the
 * sizes are equal). Returns the cosigned note and the state to store; throws ProofError with WITNESS_ROLLBACK,
 * WITNESS_FORK, WITNESS_UNKNOWN_LOG or CHECKPOINT_INVALID (its `detail` is a Refusal) when it refuses.
 */
export async function witnessCheckpoint(args: {
  ledgerId: string;
  /** Active member keys of the witness's roster: only their logs are witnessed. */
  memberKeys: readonly string[];
  note: string;
  proof: readonly string[];
  previous?: WitnessState;
  signer: Signer;
  now?: () => number;
}): Promise<{ note: string; state: WitnessState; checkpoint: Checkpoint }> {
  const { ledgerId, note, previous } = args;
  const refuse = (code: ProofCode, message: string): never => {
    throw new ProofError(code, message, {
      detail: { code, message, previous: previous?.note, offered: note } satisfies Refusal
    });
  };
  const logKey = await logKeyFor(note, ledgerId, args.memberKeys);
  const vkey = parseVerifierKey(logKey);
  // A cosignature says another device checked this log: a device never witnesses its own.
  if (toBase64url(vkey.publicKey) === args.signer.publicKey)
    refuse(ProofCode.WITNESS_UNKNOWN_LOG, `${vkey.name} is this device's own log: a device does not witness itself`);
  let opened: Awaited<ReturnType<typeof openCheckpoint>>;
  try {
    opened = await openCheckpoint(note, await createEd25519Verifier(logKey));
  } catch (e) {
    return refuse(ProofCode.CHECKPOINT_INVALID, `the checkpoint does not verify: ${(e as Error).message}`);
  }
  const cp = opened.checkpoint;
  if (cp.origin !== vkey.name)
    refuse(ProofCode.CHECKPOINT_INVALID, `the checkpoint's origin ${cp.origin} is not its log key's name ${vkey.name}`);
  if (previous) {
    if (previous.origin !== cp.origin)
      refuse(ProofCode.WITNESS_REQUEST_INVALID, `the stored state is for ${previous.origin}, not ${cp.origin}`);
    const prevRoot = fromBase64(previous.root);
    if (cp.size < previous.size) {
      refuse(
        ProofCode.WITNESS_ROLLBACK,
        `log ${cp.origin} shrank from ${previous.size} to ${cp.size} entries since this device cosigned it: events were dropped`
      );
    }
    let proof: Uint8Array[] = [];
    try {
      proof = args.proof.map((h) => fromBase64(h));
    } catch {
      refuse(ProofCode.WITNESS_FORK, 'the consistency proof holds a hash that is not base64');
    }
    if (cp.size === previous.size) {
      if (toBase64(cp.rootHash) !== previous.root)
        refuse(
          ProofCode.WITNESS_FORK,
          `log ${cp.origin} has two different roots at size ${cp.size}: its history was rewritten (a fork)`
        );
    } else {
      try {
        verifyConsistency(await createTreeHasher(), previous.size, cp.size, proof, prevRoot, cp.rootHash);
      } catch (e) {
        const why = isMerkleError(e) ? `${e.code}: ${e.message}` : String(e);
        refuse(
          ProofCode.WITNESS_FORK,
          `log ${cp.origin} at size ${cp.size} is not an extension of the checkpoint of size ${previous.size} cosigned before (${why}): its history was rewritten or an event was dropped`
        );
      }
    }
  }
  const now = args.now ?? (() => Math.floor(Date.now() / 1000));
  const time = now();
  const cosigned = await cosignCheckpoint(opened.note, await witnessCosigner(ledgerId, args.signer, () => time));
  return {
    note: cosigned,
    checkpoint: cp,
    state: { origin: cp.origin, logKey, size: cp.size, root: toBase64(cp.rootHash), note: cosigned, time }
  };
}

// ------------------------------------------------------------------------------------------------ witness state

const stateKey = async (ledgerId: string, logPublicKey: string) => [
  'witness',
  `${ledgerId.slice(0, 16)}-${await fingerprint(logPublicKey)}`
];

/** The public key (base64url) inside a log vkey. */
export function publicKeyOf(vkey: string): string {
  return toBase64url(parseVerifierKey(vkey).publicKey);
}

export async function loadWitnessState(
  storage: StorageAdapter,
  ledgerId: string,
  logPublicKey: string
): Promise<WitnessState | undefined> {
  const b = await storage.load(await stateKey(ledgerId, logPublicKey));
  if (!b) return undefined;
  const s = JSON.parse(fromUtf8(b)) as WitnessState;
  if (typeof s.size !== 'number' || typeof s.root !== 'string' || typeof s.origin !== 'string') {
    throw new ProofError(ProofCode.LOG_CORRUPT, 'the stored witness state is damaged');
  }
  return s;
}

export async function saveWitnessState(storage: StorageAdapter, ledgerId: string, state: WitnessState): Promise<void> {
  await storage.save(await stateKey(ledgerId, publicKeyOf(state.logKey)), utf8(JSON.stringify(state)));
}

/** Keeps a refusal (both contradicting notes) under witness-refusals/<ledger>-<fingerprint>-<time>. */
export async function saveRefusal(
  storage: StorageAdapter,
  ledgerId: string,
  logPublicKey: string,
  refusal: Refusal,
  time: number
): Promise<string[]> {
  const key = ['witness-refusals', `${ledgerId.slice(0, 16)}-${await fingerprint(logPublicKey)}-${time}`];
  await storage.save(key, utf8(JSON.stringify(refusal)));
  return key;
}

// ------------------------------------------------------------------------------------------------ request files

/** A witness request: the checkpoint plus consistency proofs from each earlier size given. */
export function makeWitnessRequest(note: string, logKey: string, proofs: Map<number, Uint8Array[]>): WitnessRequest {
  const consistency: Record<string, string[]> = {};
  for (const [size, p] of proofs) consistency[String(size)] = p.map((h) => toBase64(h));
  return { format: WITNESS_REQUEST_FORMAT, checkpoint: note, logKey, consistency };
}

/** Parses a witness request (attacker-controlled), field by field. */
export function parseWitnessRequest(bytes: Uint8Array): WitnessRequest {
  const bad: (why: string) => never = (why) => {
    throw new ProofError(ProofCode.WITNESS_REQUEST_INVALID, `invalid witness request: ${why}`);
  };
  if (bytes.length > MAX_REQUEST_BYTES) bad(`larger than ${MAX_REQUEST_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(bytes));
  } catch {
    bad('not UTF-8 JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) bad('not an object');
  const v = parsed as Record<string, unknown>;
  if (v.format !== WITNESS_REQUEST_FORMAT) bad(`format is not ${WITNESS_REQUEST_FORMAT}`);
  if (typeof v.checkpoint !== 'string') bad('checkpoint is not a string');
  if (typeof v.logKey !== 'string') bad('logKey is not a string');
  if (typeof v.consistency !== 'object' || v.consistency === null || Array.isArray(v.consistency))
    bad('consistency is not an object');
  for (const [k, p] of Object.entries(v.consistency)) {
    if (!/^[1-9][0-9]{0,15}$/.test(k)) bad(`consistency key ${JSON.stringify(k).slice(0, 40)} is not a size`);
    if (!Array.isArray(p) || p.length > 128 || !p.every((h) => typeof h === 'string' && h.length === 44))
      bad(`consistency[${k}] is not a list of base64 hashes`);
  }
  const extra = Object.keys(v).filter((k) => !['format', 'checkpoint', 'logKey', 'consistency'].includes(k));
  if (extra.length) bad(`unknown field ${extra[0]}`);
  return v as unknown as WitnessRequest;
}

// ------------------------------------------------------------------------------------------------ witnessing at sync

/**
 * The witness's answer at sync (ledger-schema/README.md section 19), to a request in the format above. `size` is
 * the size of the checkpoint it answers. Exactly one of:
 *   cosigned  the checkpoint note with the witness's cosignature added
 *   need      the size the witness cosigned last, when the request carries no consistency proof from it
 *   refused   why the witness will not cosign ({code, message}; code is a ProofCode)
 */
export type WitnessResponse = { format: typeof WITNESS_RESPONSE_FORMAT; size: number } & (
  { cosigned: string } | { need: number } | { refused: { code: string; message: string } }
);
export const WITNESS_RESPONSE_FORMAT = 'provenance-ledger/witness-response/v1';
/** Largest witness request or response carried at sync (a note and one proof are a few KiB). */
export const MAX_WITNESS_MESSAGE = 64 * 1024;

const isSize = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;

/** Parses a witness response (attacker-controlled), field by field. Throws WITNESS_RESPONSE_INVALID. */
export function parseWitnessResponse(bytes: Uint8Array): WitnessResponse {
  const bad: (why: string) => never = (why) => {
    throw new ProofError(ProofCode.WITNESS_RESPONSE_INVALID, `invalid witness response: ${why}`);
  };
  if (bytes.length > MAX_WITNESS_MESSAGE) bad(`larger than ${MAX_WITNESS_MESSAGE} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    bad('not UTF-8 JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) bad('not an object');
  const v = parsed as Record<string, unknown>;
  if (v.format !== WITNESS_RESPONSE_FORMAT) bad(`format is not ${WITNESS_RESPONSE_FORMAT}`);
  if (!isSize(v.size)) bad('size is not a positive integer');
  const kinds = ['cosigned', 'need', 'refused'].filter((k) => k in v);
  if (kinds.length !== 1) bad('not exactly one of cosigned, need, refused');
  const extra = Object.keys(v).filter((k) => !['format', 'size', kinds[0]].includes(k));
  if (extra.length) bad(`unknown field ${JSON.stringify(extra[0]).slice(0, 40)}`);
  if (kinds[0] === 'cosigned' && typeof v.cosigned !== 'string') bad('cosigned is not a string');
  if (kinds[0] === 'need' && (!isSize(v.need) || v.need >= v.size)) bad("need is not a size below the checkpoint's");
  if (kinds[0] === 'refused') {
    const r = v.refused as { code?: unknown; message?: unknown } | null;
    if (
      typeof r !== 'object' ||
      r === null ||
      typeof r.code !== 'string' ||
      typeof r.message !== 'string' ||
      Object.keys(r).length !== 2
    ) {
      bad('refused is not {code, message}');
    }
    if (!/^[A-Z_]{1,40}$/.test(r.code)) bad('refused.code is not a code');
    if (r.message.length > 1000) bad('refused.message is longer than 1000 characters');
  }
  return v as unknown as WitnessResponse;
}

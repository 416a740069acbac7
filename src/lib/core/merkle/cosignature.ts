/**
 * C2SP tlog-cosignature v1 with Ed25519 (https://c2sp.org/tlog-cosignature): a note signature of signature type
 * 0x04 on a checkpoint, stating that as of a time the cosigner saw this as the largest consistent tree head.
 *
 *   key ID     = SHA-256(<name> || "\n" || 0x04 || 32-byte Ed25519 public key)[:4]
 *   signature  = uint64 big-endian timestamp (POSIX seconds) || Ed25519 signature (64 bytes)
 *   signed msg = "cosignature/v1\n" || "time <timestamp>\n" || checkpoint note text (with its final newline)
 *
 * The message does not commit to the cosigner's name, so one key must never serve two cosigner names.
 * Timestamps above Number.MAX_SAFE_INTEGER (~285 million years ahead) are rejected as being in the future,
 * which the spec allows.
 */
import { concatBytes, utf8 } from '../bytes.ts';
import { parseCheckpoint, openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { MerkleError } from './errors.ts';
import {
  ed25519Verify,
  exportEd25519PublicKey,
  formatVerifierKey,
  importEd25519VerifierKey,
  isValidKeyName,
  noteKeyId,
  signNote,
  type NoteSigner,
  type NoteVerifier,
  type VerifiedNote
} from './note.ts';

export const SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04;
const ED25519 = { name: 'Ed25519' } as const;
const TIMESTAMPED_SIGNATURE_SIZE = 8 + 64;
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A verified cosignature on a checkpoint. */
export interface Cosignature {
  readonly name: string;
  readonly keyId: number;
  /** POSIX seconds. */
  readonly timestamp: number;
}

/** The bytes an Ed25519 cosigner signs for checkpoint note text at a timestamp. */
export function cosignatureMessage(checkpointText: string | Uint8Array, timestamp: number): Uint8Array {
  checkTimestamp(timestamp);
  const text = typeof checkpointText === 'string' ? utf8(checkpointText) : checkpointText;
  return concatBytes(utf8(`cosignature/v1\ntime ${BigInt(timestamp)}\n`), text);
}

/** Splits a cosignature's signature bytes (after the key ID) into timestamp and Ed25519 signature. */
export function parseTimestampedSignature(sig: Uint8Array): { timestamp: number; signature: Uint8Array } {
  if (!(sig instanceof Uint8Array) || sig.length !== TIMESTAMPED_SIGNATURE_SIZE) {
    throw new MerkleError(
      'COSIGNATURE_MALFORMED',
      `a cosignature is ${TIMESTAMPED_SIGNATURE_SIZE} bytes after the key id`
    );
  }
  const t = new DataView(sig.buffer, sig.byteOffset, sig.byteLength).getBigUint64(0);
  if (t > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MerkleError('COSIGNATURE_MALFORMED', 'cosignature timestamp is out of range');
  }
  return { timestamp: Number(t), signature: sig.slice(8) };
}

/** The vkey of a cosigner: signature type 0x04 and its 32-byte Ed25519 public key. */
export async function cosignatureVerifierKey(name: string, publicKey: Uint8Array): Promise<string> {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new MerkleError('VERIFIER_KEY_INVALID', 'Ed25519 public keys are 32 bytes');
  }
  const keyId = await noteKeyId(name, SIGNATURE_TYPE_COSIGNATURE_V1, publicKey);
  return formatVerifierKey({ name, keyId, type: SIGNATURE_TYPE_COSIGNATURE_V1, publicKey });
}

/**
 * A cosigner: a NoteSigner that only signs checkpoint text, stamping it with now() (POSIX seconds; defaults to
 * the clock). Cosign only after checking the checkpoint is consistent with what you saw before.
 */
export async function createCosigner(
  name: string,
  keyPair: CryptoKeyPair,
  now: () => number = () => Math.floor(Date.now() / 1000)
): Promise<NoteSigner & { readonly verifierKey: string }> {
  if (!isValidKeyName(name)) throw new MerkleError('KEY_NAME_INVALID', `invalid cosigner name ${JSON.stringify(name)}`);
  const publicKey = await exportEd25519PublicKey(keyPair);
  const verifierKey = await cosignatureVerifierKey(name, publicKey);
  const keyId = await noteKeyId(name, SIGNATURE_TYPE_COSIGNATURE_V1, publicKey);
  return {
    name,
    keyId,
    verifierKey,
    async sign(text) {
      parseCheckpoint(decoder.decode(text)); // never cosign anything but a well-formed checkpoint
      const timestamp = now();
      const sig = new Uint8Array(
        await crypto.subtle.sign(ED25519, keyPair.privateKey, cosignatureMessage(text, timestamp) as BufferSource)
      );
      const out = new Uint8Array(TIMESTAMPED_SIGNATURE_SIZE);
      new DataView(out.buffer).setBigUint64(0, BigInt(timestamp));
      out.set(sig, 8);
      return out;
    }
  };
}

/** A NoteVerifier for a cosigner's vkey (type 0x04); use it with openNote / openCheckpoint. */
export async function createCosignatureVerifier(vkey: string): Promise<NoteVerifier> {
  const key = await importEd25519VerifierKey(vkey, SIGNATURE_TYPE_COSIGNATURE_V1);
  return {
    name: key.name,
    keyId: key.keyId,
    async verify(text, sig) {
      const { timestamp, signature } = parseTimestampedSignature(sig);
      return ed25519Verify(key.cryptoKey, signature, cosignatureMessage(text, timestamp));
    }
  };
}

/**
 * Adds a cosignature to a checkpoint note that has been opened (its log signature verified); every signature
 * already on it is kept, except an older one by this cosigner, which is replaced. Returns the new note.
 */
export async function cosignCheckpoint(note: VerifiedNote, cosigner: NoteSigner): Promise<string> {
  parseCheckpoint(note.text);
  return signNote(note.text, [cosigner], [...note.verified, ...note.unverified]);
}

/** The verified signatures of an opened note that belong to the given cosigners, with their timestamps. */
export function cosignaturesOf(note: VerifiedNote, cosigners: readonly NoteVerifier[]): Cosignature[] {
  return note.verified
    .filter((s) => cosigners.some((c) => c.name === s.name && c.keyId === s.keyId))
    .map((s) => ({ name: s.name, keyId: s.keyId, timestamp: parseTimestampedSignature(s.signature).timestamp }));
}

/** Opens a checkpoint signed by the log, verifying the known cosigners' signatures and returning them. */
export async function openCosignedCheckpoint(
  note: string | Uint8Array,
  log: NoteVerifier,
  cosigners: readonly NoteVerifier[]
): Promise<{ checkpoint: Checkpoint; note: VerifiedNote; cosignatures: Cosignature[] }> {
  const opened = await openCheckpoint(note, log, cosigners);
  return { ...opened, cosignatures: cosignaturesOf(opened.note, cosigners) };
}

function checkTimestamp(t: number): void {
  if (!Number.isSafeInteger(t) || t < 0) {
    throw new MerkleError('COSIGNATURE_MALFORMED', `timestamp ${t} is not a non-negative safe integer`);
  }
}

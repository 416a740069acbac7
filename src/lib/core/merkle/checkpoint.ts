/**
 * C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the text of a signed note made of
 *
 *   <origin>\n
 *   <tree size, decimal, no leading zeroes>\n
 *   <root hash, base64 of 32 bytes>\n
 *   <extension line>\n ...   (optional, non-empty, opaque)
 *
 * Formatting and parsing are strict and mirror each other: parseCheckpoint(formatCheckpoint(c)) gives c back and
 * formatCheckpoint(parseCheckpoint(t)) === t. Tree sizes above Number.MAX_SAFE_INTEGER are rejected (the spec
 * allows uint64; no log of ours comes near 2^53 entries). An empty tree must carry SHA-256("") as its root.
 */
import { bytesEqual, fromBase64, toBase64 } from '../bytes.ts';
import { MerkleError } from './errors.ts';
import { emptyRoot, HASH_SIZE } from './hash.ts';
import { openNote, signNote, type NoteSigner, type NoteVerifier, type VerifiedNote } from './note.ts';

export interface Checkpoint {
  /** Unique identity of the log, e.g. "example.com/log42". */
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** Opaque extension lines (without newlines); usually none. */
  readonly extensions: readonly string[];
}

const CONTROL = /[\u0000-\u001f]/; // newline included: a field is one line
const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;

/** The checkpoint note text (what is signed), ending in a newline. */
export function formatCheckpoint(c: Checkpoint): string {
  checkLine(c.origin, 'origin');
  if (!Number.isSafeInteger(c.size) || c.size < 0)
    throw malformed(`tree size ${c.size} is not a safe non-negative integer`);
  checkRoot(c.size, c.rootHash);
  if (!Array.isArray(c.extensions)) throw malformed('extensions must be an array of lines');
  c.extensions.forEach((e, i) => checkLine(e, `extension line ${i}`));
  return [c.origin, String(c.size), toBase64(c.rootHash), ...c.extensions].map((l) => `${l}\n`).join('');
}

/** Parses checkpoint note text. Attacker-controlled: every field is checked. */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw malformed('text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw malformed('want origin, tree size and root hash lines');
  const names = ['origin', 'tree size', 'root hash'];
  lines.forEach((l, i) => checkLine(l, names[i] ?? `extension line ${i - 3}`));
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (!DECIMAL.test(sizeLine)) throw malformed('tree size is not a decimal without leading zeroes');
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw malformed('tree size exceeds 2^53 - 1');
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(rootLine);
  } catch (e) {
    throw new MerkleError('CHECKPOINT_MALFORMED', 'malformed checkpoint: root hash is not canonical base64', {
      cause: e
    });
  }
  checkRoot(size, rootHash);
  return { origin, size, rootHash, extensions };
}

/** Formats and signs a checkpoint; returns the signed note. */
export async function signCheckpoint(c: Checkpoint, signers: readonly NoteSigner[]): Promise<string> {
  return signNote(formatCheckpoint(c), signers);
}

/**
 * Verifies a signed checkpoint: the log's signature must be present and valid, other known keys (cosigners) are
 * verified too and unknown ones ignored; then the text is parsed strictly.
 */
export async function openCheckpoint(
  note: string | Uint8Array,
  log: NoteVerifier,
  others: readonly NoteVerifier[] = []
): Promise<{ checkpoint: Checkpoint; note: VerifiedNote }> {
  const opened = await openNote(note, [log, ...others]);
  if (!opened.verified.some((s) => s.name === log.name && s.keyId === log.keyId)) {
    throw new MerkleError('NOTE_UNVERIFIED', `the checkpoint is not signed by the log key ${log.name}`);
  }
  return { checkpoint: parseCheckpoint(opened.text), note: opened };
}

function checkLine(line: string, what: string): void {
  if (typeof line !== 'string' || line.length === 0) throw malformed(`${what} is empty`);
  if (CONTROL.test(line)) throw malformed(`${what} contains a control character`);
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(line)) {
    throw malformed(`${what} is not valid Unicode`);
  }
}

function checkRoot(size: number, root: Uint8Array): void {
  if (!(root instanceof Uint8Array) || root.length !== HASH_SIZE)
    throw malformed(`root hash must be ${HASH_SIZE} bytes`);
  if (size === 0 && !bytesEqual(root, emptyRoot())) throw malformed('an empty tree must have the root SHA-256("")');
}

function malformed(why: string): MerkleError {
  return new MerkleError('CHECKPOINT_MALFORMED', `malformed checkpoint: ${why}`);
}

/**
 * The evidence bundle format, version 1 (ledger-schema/README.md section 16), and its defensive parser.
 *
 * A bundle is attacker-controlled input: it is parsed field by field with a size limit on the whole and on every
 * string and list, every problem named by its JSON path (the model is sigstore-js's assertBundle). Parsing checks
 * shape only; bundle-verify.ts checks what the values mean.
 */
import { canonicalJson } from '../canonical.ts';

/** The format written now: v1 plus RFC 3161 time-stamp tokens (`timestamps`). v1 bundles are still read. */
export const BUNDLE_FORMAT = 'provenance-ledger/bundle/v2';
export const BUNDLE_FORMAT_V1 = 'provenance-ledger/bundle/v1';
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;
export const MAX_BUNDLE_EVENTS = 10_000;
export const MAX_ENVELOPE_CHARS = 1024 * 1024;
export const MAX_PROOF_HASHES = 64;
export const MAX_WITNESS_KEYS = 100;
export const MAX_OPENINGS = 1000;
export const MAX_NOTE_CHARS = 64 * 1024;
export const MAX_REPORT_CHARS = 1024 * 1024;
export const MAX_TIMESTAMPS = 16;
/** A DER time-stamp token, base64: 64 KiB of bytes. */
export const MAX_TOKEN_CHARS = 87_384;
export const MAX_SUBJECT_NAME_CHARS = 255;
export const MAX_KEY_CHARS = 4096;
export const MAX_PROMPT_CHARS = 100_000;

/** One included event: its exact envelope bytes (as a string), its leaf index, its inclusion proof. */
export interface BundleEvent {
  /** The envelope's canonical JSON (ledger-schema sections 2-6); leaf data = its UTF-8 bytes. */
  envelope: string;
  /** Leaf index in the log. */
  leaf: number;
  /** RFC 9162 inclusion proof to the checkpoint: base64 (padded) 32-byte hashes, bottom first. */
  proof: string[];
}

export interface PromptOpening {
  alg: string;
  commitment: string;
  salt: string;
  prompt: string;
}

/**
 * An RFC 3161 time-stamp token over a checkpoint of the same log: the one in the bundle (`size` equal to its size,
 * `consistency` empty) or an earlier one, with the RFC 9162 consistency proof from it to the bundle's checkpoint.
 * The token's message imprint is SHA-256 of that checkpoint's signed text: `<origin>\n<size>\n<root>\n`.
 */
export interface BundleTimestamp {
  size: number;
  /** The root at `size`, base64 (padded). */
  root: string;
  /** Base64 hashes, from `size` to the bundle checkpoint's size. */
  consistency: string[];
  /** The TimeStampToken (CMS ContentInfo), DER, base64 (padded). */
  token: string;
}

export type BundleSubject = { sha256: string; name?: string } | { event: string };

export interface Bundle {
  format: typeof BUNDLE_FORMAT | typeof BUNDLE_FORMAT_V1;
  /** The ledger id: the id of the genesis event. */
  ledger: string;
  subject: BundleSubject;
  /** Parents first, then (time, id): the asset's events and the member events that make their authors members. */
  events: BundleEvent[];
  /** The signed checkpoint note (C2SP tlog-checkpoint) with its cosignatures. */
  checkpoint: string;
  /** The log's verifier key (signed-note vkey, type 0x01). */
  logKey: string;
  /** The cosigners' verifier keys (type 0x04). */
  witnessKeys: string[];
  openings: PromptOpening[];
  /** v2: time-stamp tokens over this checkpoint or earlier ones of the same log (absent in v1). */
  timestamps?: BundleTimestamp[];
  /** The prover's readable report. Not evidence: a verifier states its own reading of the checked facts. */
  report: string;
}

/** What parseBundle tolerated around the canonical bytes (section 16): said to the reader, never silent. */
export interface BundleTolerance {
  bom: boolean;
  trailingWhitespace: number;
}

export class BundleFormatError extends Error {
  readonly path: string;
  /** What is wrong, without the path (the message starts with the path). */
  readonly reason: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'BundleFormatError';
    this.path = path;
    this.reason = message;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const B64_HASH = /^[A-Za-z0-9+/]{43}=$/;
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes and asserts a bundle from its bytes. Throws BundleFormatError naming the offending field.
 *
 * The one rule for re-formatted files (section 16): a UTF-8 byte order mark before the JSON and ASCII whitespace
 * after it (what editors and mail add) are tolerated and reported in `tolerated`; every other byte must be the
 * canonical JSON (a CRLF or a space inside it is a change).
 */
export function parseBundle(bytes: Uint8Array, tolerated?: BundleTolerance): Bundle {
  if (!(bytes instanceof Uint8Array)) throw new BundleFormatError('bundle', 'not bytes');
  if (bytes.length > MAX_BUNDLE_BYTES)
    throw new BundleFormatError('bundle', `too large: ${bytes.length} bytes, the limit is ${MAX_BUNDLE_BYTES}`);
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  let end = bytes.length;
  while (
    end > (bom ? 3 : 0) &&
    (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09 || bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)
  )
    end--;
  if (tolerated) {
    tolerated.bom = bom;
    tolerated.trailingWhitespace = bytes.length - end;
  }
  let text: string;
  try {
    text = decoder.decode(bytes.subarray(bom ? 3 : 0, end));
  } catch {
    throw new BundleFormatError('bundle', 'not UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new BundleFormatError('bundle', `not JSON (truncated?): ${(e as Error).message}`);
  }
  assertBundle(value);
  // The file is exactly the JCS form of its value: any change to its bytes is a change the verifier sees.
  if (canonicalJson(value) !== text)
    throw new BundleFormatError('bundle', 'the bytes are not the canonical (RFC 8785) form of the bundle');
  return value;
}

/** Asserts the shape of a parsed bundle; every field is attacker-controlled. */
export function assertBundle(b: unknown): asserts b is Bundle {
  const v1 = typeof b === 'object' && b !== null && (b as { format?: unknown }).format === BUNDLE_FORMAT_V1;
  const fields = ['format', 'ledger', 'subject', 'events', 'checkpoint', 'logKey', 'witnessKeys', 'openings', 'report'];
  const o = object(b, 'bundle', v1 ? fields : [...fields, 'timestamps']);
  if (o.format !== BUNDLE_FORMAT && !v1)
    throw new BundleFormatError(
      'format',
      `not ${JSON.stringify(BUNDLE_FORMAT)} (or ${JSON.stringify(BUNDLE_FORMAT_V1)})`
    );
  hex64(o.ledger, 'ledger');
  const subj = o.subject;
  if (typeof subj === 'object' && subj !== null && 'event' in subj) {
    const s = object(subj, 'subject', ['event']);
    hex64(s.event, 'subject.event');
  } else {
    const s = object(subj, 'subject', ['sha256', 'name'], ['sha256']);
    hex64(s.sha256, 'subject.sha256');
    if (s.name !== undefined) string(s.name, 'subject.name', MAX_SUBJECT_NAME_CHARS);
  }
  const events = array(o.events, 'events', MAX_BUNDLE_EVENTS);
  if (events.length === 0) throw new BundleFormatError('events', 'empty');
  events.forEach((e, i) => {
    const path = `events[${i}]`;
    const ev = object(e, path, ['envelope', 'leaf', 'proof']);
    string(ev.envelope, `${path}.envelope`, MAX_ENVELOPE_CHARS);
    if (typeof ev.leaf !== 'number' || !Number.isSafeInteger(ev.leaf) || ev.leaf < 0) {
      throw new BundleFormatError(`${path}.leaf`, 'not a non-negative integer');
    }
    array(ev.proof, `${path}.proof`, MAX_PROOF_HASHES).forEach((h, j) => {
      if (typeof h !== 'string' || !B64_HASH.test(h))
        throw new BundleFormatError(`${path}.proof[${j}]`, 'not a base64 32-byte hash');
    });
  });
  string(o.checkpoint, 'checkpoint', MAX_NOTE_CHARS);
  string(o.logKey, 'logKey', MAX_KEY_CHARS);
  array(o.witnessKeys, 'witnessKeys', MAX_WITNESS_KEYS).forEach((k, i) =>
    string(k, `witnessKeys[${i}]`, MAX_KEY_CHARS)
  );
  array(o.openings, 'openings', MAX_OPENINGS).forEach((x, i) => {
    const path = `openings[${i}]`;
    const op = object(x, path, ['alg', 'commitment', 'salt', 'prompt']);
    string(op.alg, `${path}.alg`, 64);
    hex64(op.commitment, `${path}.commitment`);
    string(op.salt, `${path}.salt`, 64);
    string(op.prompt, `${path}.prompt`, MAX_PROMPT_CHARS);
  });
  if (!v1) {
    array(o.timestamps, 'timestamps', MAX_TIMESTAMPS).forEach((x, i) => {
      const path = `timestamps[${i}]`;
      const t = object(x, path, ['size', 'root', 'consistency', 'token']);
      if (typeof t.size !== 'number' || !Number.isSafeInteger(t.size) || t.size < 1)
        throw new BundleFormatError(`${path}.size`, 'not a positive integer');
      if (typeof t.root !== 'string' || !B64_HASH.test(t.root))
        throw new BundleFormatError(`${path}.root`, 'not a base64 32-byte hash');
      array(t.consistency, `${path}.consistency`, MAX_PROOF_HASHES).forEach((h, j) => {
        if (typeof h !== 'string' || !B64_HASH.test(h))
          throw new BundleFormatError(`${path}.consistency[${j}]`, 'not a base64 32-byte hash');
      });
      string(t.token, `${path}.token`, MAX_TOKEN_CHARS);
      if (!B64.test(t.token as string)) throw new BundleFormatError(`${path}.token`, 'not base64');
    });
  }
  string(o.report, 'report', MAX_REPORT_CHARS, true);
}

function object(v: unknown, path: string, allowed: string[], required: string[] = allowed): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BundleFormatError(path, 'not an object');
  for (const k of Object.keys(v))
    if (!allowed.includes(k)) throw new BundleFormatError(`${path}.${k.slice(0, 64)}`, 'unknown field');
  for (const k of required) if (!(k in v)) throw new BundleFormatError(`${path}.${k}`, 'missing');
  return v as Record<string, unknown>;
}

function array(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw new BundleFormatError(path, 'not an array');
  if (v.length > max) throw new BundleFormatError(path, `more than ${max} entries`);
  return v;
}

function string(v: unknown, path: string, max: number, allowEmpty = false): string {
  if (typeof v !== 'string') throw new BundleFormatError(path, 'not a string');
  if (!allowEmpty && v.length === 0) throw new BundleFormatError(path, 'empty');
  if (v.length > max) throw new BundleFormatError(path, `longer than ${max} characters`);
  if (!v.isWellFormed()) throw new BundleFormatError(path, 'not valid Unicode');
  return v;
}

function hex64(v: unknown, path: string): string {
  if (typeof v !== 'string' || !HEX64.test(v)) throw new BundleFormatError(path, 'not 64 lowercase hex digits');
  return v;
}

/** The bundle's file bytes: its RFC 8785 (JCS) canonical JSON, UTF-8. */
export function serializeBundle(b: Bundle): Uint8Array {
  return new TextEncoder().encode(canonicalJson(b));
}

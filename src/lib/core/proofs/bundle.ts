/**
 * The evidence bundle format, version 1 (ledger-schema/README.md section 16), and its defensive parser.
 *
 * A bundle is attacker-controlled input: it is parsed field by field with a size limit on the whole and on every
 * string and list, every problem named by its JSON path (the model is sigstore-js's assertBundle). Parsing checks
 * shape only; bundle-verify.ts checks what the values mean.
 */
import { canonicalJson } from '../canonical.ts';

export const BUNDLE_FORMAT = 'provenance-ledger/bundle/v1';
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;
export const MAX_BUNDLE_EVENTS = 10_000;
export const MAX_ENVELOPE_CHARS = 1024 * 1024;
export const MAX_PROOF_HASHES = 64;
export const MAX_WITNESS_KEYS = 100;
export const MAX_OPENINGS = 1000;
export const MAX_NOTE_CHARS = 64 * 1024;
export const MAX_REPORT_CHARS = 1024 * 1024;

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

export type BundleSubject = { sha256: string; name?: string } | { event: string };

export interface Bundle {
  format: typeof BUNDLE_FORMAT;
  /** The ledger id: the id of the genesis event. */
  ledger: string;
  subject: BundleSubject;
  /** Sorted by (time, id): the asset's events and the member events that make their authors members. */
  events: BundleEvent[];
  /** The signed checkpoint note (C2SP tlog-checkpoint) with its cosignatures. */
  checkpoint: string;
  /** The log's verifier key (signed-note vkey, type 0x01). */
  logKey: string;
  /** The cosigners' verifier keys (type 0x04). */
  witnessKeys: string[];
  openings: PromptOpening[];
  /** A readable report: what a verifier following section 17 states (ours checks it is exactly its own reading). */
  report: string;
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
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes and asserts a bundle from its bytes. Throws BundleFormatError naming the offending field. */
export function parseBundle(bytes: Uint8Array): Bundle {
  if (!(bytes instanceof Uint8Array)) throw new BundleFormatError('bundle', 'not bytes');
  if (bytes.length > MAX_BUNDLE_BYTES) throw new BundleFormatError('bundle', `too large: ${bytes.length} bytes, the limit is ${MAX_BUNDLE_BYTES}`);
  let text: string;
  try {
    text = decoder.decode(bytes);
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
  if (canonicalJson(value) !== text) throw new BundleFormatError('bundle', 'the bytes are not the canonical (RFC 8785) form of the bundle');
  return value;
}

/** Asserts the shape of a parsed bundle; every field is attacker-controlled. */
export function assertBundle(b: unknown): asserts b is Bundle {
  const o = object(b, 'bundle', ['format', 'ledger', 'subject', 'events', 'checkpoint', 'logKey', 'witnessKeys', 'openings', 'report']);
  if (o.format !== BUNDLE_FORMAT) throw new BundleFormatError('format', `not ${JSON.stringify(BUNDLE_FORMAT)}`);
  hex64(o.ledger, 'ledger');
  const subj = o.subject;
  if (typeof subj === 'object' && subj !== null && 'event' in subj) {
    const s = object(subj, 'subject', ['event']);
    hex64(s.event, 'subject.event');
  } else {
    const s = object(subj, 'subject', ['sha256', 'name'], ['sha256']);
    hex64(s.sha256, 'subject.sha256');
    if (s.name !== undefined) string(s.name, 'subject.name', 255);
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
      if (typeof h !== 'string' || !B64_HASH.test(h)) throw new BundleFormatError(`${path}.proof[${j}]`, 'not a base64 32-byte hash');
    });
  });
  string(o.checkpoint, 'checkpoint', MAX_NOTE_CHARS);
  string(o.logKey, 'logKey', 4096);
  array(o.witnessKeys, 'witnessKeys', MAX_WITNESS_KEYS).forEach((k, i) => string(k, `witnessKeys[${i}]`, 4096));
  array(o.openings, 'openings', MAX_OPENINGS).forEach((x, i) => {
    const path = `openings[${i}]`;
    const op = object(x, path, ['alg', 'commitment', 'salt', 'prompt']);
    string(op.alg, `${path}.alg`, 64);
    hex64(op.commitment, `${path}.commitment`);
    string(op.salt, `${path}.salt`, 64);
    string(op.prompt, `${path}.prompt`, 100_000);
  });
  string(o.report, 'report', MAX_REPORT_CHARS, true);
}

function object(v: unknown, path: string, allowed: string[], required: string[] = allowed): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BundleFormatError(path, 'not an object');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new BundleFormatError(`${path}.${k.slice(0, 64)}`, 'unknown field');
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

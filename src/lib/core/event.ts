/**
 * One event from unsigned object to signed envelope and back: canonical bytes, id, DSSE PAE signature.
 * The byte-level rules are in ledger-schema/README.md sections 2-6.
 */
import { canonicalBytes, canonicalJson } from './canonical.ts';
import { bytesEqual, concatBytes, fromBase64url, fromUtf8, toBase64url, utf8 } from './bytes.ts';
import { sha256HexSync, initHash } from './hash.ts';
import { type Signer, verifySignature } from './keys.ts';
import { ErrorCode, LedgerError } from './errors.ts';
import type { UnsignedEvent } from './types.ts';

export const EVENT_SPEC = 'provenance-ledger/event/v1';
export const PAYLOAD_TYPE = 'application/vnd.provenance-ledger.event.v1+json';

/** A lowercase-hex SHA-256 event id. */
export type EventId = string & { readonly __eventId: true };
export const EVENT_ID_RE = /^[0-9a-f]{64}$/;
export const isEventId = (s: unknown): s is EventId => typeof s === 'string' && s.length === 64 && EVENT_ID_RE.test(s);

export interface SignedEnvelope {
  event: UnsignedEvent;
  sig: string;
}

/** An event as the ledger holds it: parsed, with its id and its exact stored bytes. */
export interface LedgerEvent {
  id: EventId;
  event: UnsignedEvent;
  sig: string;
}

/** "DSSEv1 <len> <type>" by payload type (the ledger signs one type: encoded once). */
const paeHeads = new Map<string, Uint8Array>();

/** DSSE v1 pre-authentication encoding. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  let head = paeHeads.get(payloadType);
  if (!head) {
    const t = utf8(payloadType);
    head = concatBytes(utf8(`DSSEv1 ${t.length} `), t);
    if (paeHeads.size > 64) paeHeads.clear();
    paeHeads.set(payloadType, head);
  }
  const len = ` ${payload.length} `; // ASCII: one byte per character
  const out = new Uint8Array(head.length + len.length + payload.length);
  out.set(head);
  for (let i = 0; i < len.length; i++) out[head.length + i] = len.charCodeAt(i);
  out.set(payload, head.length + len.length);
  return out;
}

export async function eventId(event: UnsignedEvent): Promise<EventId> {
  await initHash();
  return sha256HexSync(canonicalBytes(event)) as EventId;
}

const ENVELOPE_HEAD = utf8('{"event":');

/** Signs an unsigned event; returns the envelope, its id and its canonical bytes. */
export async function signEvent(
  event: UnsignedEvent,
  signer: Signer
): Promise<{ id: EventId; envelope: SignedEnvelope; bytes: Uint8Array }> {
  if (event.author !== signer.publicKey) {
    throw new LedgerError(ErrorCode.KEY_MISMATCH, 'the event author is not the signing key');
  }
  await initHash();
  const payload = canonicalBytes(event);
  const id = sha256HexSync(payload) as EventId;
  const sig = toBase64url(await signer.sign(pae(PAYLOAD_TYPE, payload)));
  const envelope = { event, sig };
  // The envelope's canonical form, built around the event's canonical bytes: its two keys sort as "event",
  // "sig", and a base64url signature needs no escaping (the same bytes as canonicalJson(envelope)).
  const bytes = concatBytes(ENVELOPE_HEAD, payload, utf8(`,"sig":"${sig}"}`));
  return { id, envelope, bytes };
}

/** A problem found in one stored envelope, before any ledger-level (roster, parents) check. */
export interface EnvelopeProblem {
  code: ErrorCode;
  message: string;
}

/**
 * Parses stored envelope bytes defensively (they may come from a hostile peer or a corrupted disk).
 * Checks: UTF-8, JSON, exactly {event, sig}, canonical form. Schema checks are separate (validate.ts).
 */
export function parseEnvelope(
  bytes: Uint8Array,
  /** The string `bytes` is the UTF-8 encoding of, when the caller has it (saves decoding and re-encoding). */
  source?: string,
  /** JSON.parse(source), when the caller has it (it is not parsed again). Treated as read-only. */
  parsedSource?: unknown
): { envelope?: SignedEnvelope; problem?: EnvelopeProblem; eventBytes?: Uint8Array } {
  let text: string;
  let value: unknown;
  // A well-formed string (no lone surrogate) is exactly what its UTF-8 bytes decode to; otherwise decode them.
  const same = source !== undefined && (source as { isWellFormed?: () => boolean }).isWellFormed?.() === true;
  try {
    text = same ? source! : fromUtf8(bytes);
    value = same && parsedSource !== undefined ? parsedSource : JSON.parse(text);
  } catch (e) {
    return { problem: { code: ErrorCode.MALFORMED, message: `not UTF-8 JSON: ${(e as Error).message}` } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: { code: ErrorCode.MALFORMED, message: 'envelope is not a JSON object' } };
  }
  const keys = Object.keys(value).sort().join(',');
  if (keys !== 'event,sig') {
    return {
      problem: { code: ErrorCode.MALFORMED, message: `envelope must have exactly "event" and "sig", has: ${keys}` }
    };
  }
  const env = value as SignedEnvelope;
  if (typeof env.event !== 'object' || env.event === null || Array.isArray(env.event) || typeof env.sig !== 'string') {
    return { problem: { code: ErrorCode.MALFORMED, message: 'envelope "event" must be an object and "sig" a string' } };
  }
  let canonical: string;
  try {
    canonical = canonicalJson(value);
  } catch (e) {
    return { problem: { code: ErrorCode.MALFORMED, message: (e as Error).message } };
  }
  // The same string as the one the bytes encode means the same bytes; anything else is compared byte for byte.
  if (!(same && canonical === text) && !bytesEqual(utf8(canonical), bytes)) {
    return {
      envelope: env,
      problem: { code: ErrorCode.CANONICAL, message: 'stored bytes are not the canonical (RFC 8785) form' }
    };
  }
  // The bytes are exactly {"event":JCS(event),"sig":"..."} (JCS sorts "event" before "sig"), so the event's
  // canonical bytes are a slice of them: no need to serialize the event again to hash and verify it.
  const tail = utf8(`,"sig":${JSON.stringify(env.sig)}}`).length;
  return { envelope: env, eventBytes: bytes.subarray(9, bytes.length - tail) };
}

/** Recomputes the id and checks the signature. Returns the problems found (empty when both hold). */
export async function checkIdAndSignature(
  envelope: SignedEnvelope,
  claimedId?: string,
  /** JCS(envelope.event) when the caller already holds it (parseEnvelope's eventBytes). */
  eventBytes?: Uint8Array,
  /**
   * True when the author's signature over these exact envelope bytes is already established (a checked signed
   * tree head of the author's log covers them, proofs/signed-head.ts): the signature's form is checked, not the
   * Ed25519 equation again.
   */
  signatureCovered = false
): Promise<EnvelopeProblem[]> {
  const problems: EnvelopeProblem[] = [];
  await initHash();
  const payload = eventBytes ?? canonicalBytes(envelope.event);
  const id = sha256HexSync(payload);
  if (claimedId !== undefined && id !== claimedId) {
    problems.push({
      code: ErrorCode.ID_MISMATCH,
      message: `stored under id ${claimedId} but its content hashes to ${id}`
    });
  }
  let sig: Uint8Array | undefined;
  try {
    sig = fromBase64url(envelope.sig);
  } catch {
    sig = undefined;
  }
  const ok =
    sig !== undefined &&
    (signatureCovered
      ? sig.length === 64
      : await verifySignature(envelope.event.author, pae(PAYLOAD_TYPE, payload), sig));
  if (!ok)
    problems.push({ code: ErrorCode.SIGNATURE, message: 'the signature does not verify against the author key' });
  return problems;
}

/** Canonical time string (RFC 3339 UTC, millisecond precision). */
export function formatTime(d: Date): string {
  return d.toISOString();
}

/**
 * C2SP signed-note (https://c2sp.org/signed-note): a text ending in a newline, a blank line, then one or more
 * signature lines "— <key name> <base64(uint32 key ID || signature)>\n".
 *
 * Notes arrive from other peers, so parsing is defensive: size and signature-count limits, strict UTF-8, no
 * control characters but newline, strict base64, valid key names. Signatures from unknown keys (name and key ID
 * not both matching a known verifier) are ignored as the spec requires; a known key whose signature fails rejects
 * the whole note; a note with no verified known signature is rejected.
 *
 * Ed25519 (signature type 0x01) uses WebCrypto. Key ID = SHA-256(name || 0x0A || type || public key)[:4].
 */
import { concatBytes, fromBase64, toBase64, utf8 } from '../bytes.ts';
import { MerkleError } from './errors.ts';

export const SIGNATURE_TYPE_ED25519 = 0x01;
/** Verifiers must accept at least 16; golang.org/x/mod/sumdb/note also stops at 100. */
export const MAX_NOTE_SIGNATURES = 100;
export const MAX_NOTE_BYTES = 1 << 20;

const SIG_PREFIX = '\u2014 '; // em dash, space
const ED25519 = { name: 'Ed25519' } as const;
const ED25519_KEY_SIZE = 32;
const ED25519_SIG_SIZE = 64;
// fatal: invalid UTF-8 is an error; ignoreBOM: a leading U+FEFF stays part of the text instead of vanishing.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export interface NoteSignature {
  readonly name: string;
  /** The uint32 key ID (big-endian first 4 bytes of the signature payload). */
  readonly keyId: number;
  /** The signature bytes after the key ID. */
  readonly signature: Uint8Array;
}

/** A parsed, not yet verified note. */
export interface Note {
  /** The note text, including its final newline, excluding the blank separator line. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface VerifiedNote {
  readonly text: string;
  /** Signatures that verified against a known key, one per key, in note order. */
  readonly verified: readonly NoteSignature[];
  /** Signatures from unknown keys: ignored, kept so they can be carried along when the note is re-signed. */
  readonly unverified: readonly NoteSignature[];
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** Whether signature (the bytes after the key ID) is valid over the note text as UTF-8. */
  verify(text: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The signature (without key ID) over the note text as UTF-8. */
  sign(text: Uint8Array): Promise<Uint8Array>;
}

/** A decoded verifier key "<name>+<hex key ID>+<base64(type || public key)>". */
export interface VerifierKey {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  readonly publicKey: Uint8Array;
}

/** Key names are non-empty, without Unicode spaces, plus signs or control characters. */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    !/[\p{White_Space}+]/u.test(name) &&
    !CONTROL.test(name) &&
    !LONE_SURROGATE.test(name)
  );
}

/** SHA-256(name || 0x0A || type || publicKey)[:4] as a uint32. */
export async function noteKeyId(name: string, type: number, publicKey: Uint8Array): Promise<number> {
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      'SHA-256',
      concatBytes(utf8(name), new Uint8Array([0x0a, type]), publicKey) as BufferSource
    )
  );
  return readUint32(digest);
}

export function formatVerifierKey(key: VerifierKey): string {
  if (!isValidKeyName(key.name))
    throw new MerkleError('KEY_NAME_INVALID', `invalid key name ${JSON.stringify(key.name)}`);
  return `${key.name}+${keyIdHex(key.keyId)}+${toBase64(concatBytes(new Uint8Array([key.type]), key.publicKey))}`;
}

/** Parses the syntax of a verifier key; checking the key ID against the key is up to each signature type. */
export function parseVerifierKey(vkey: string): VerifierKey {
  const bad = (why: string) => new MerkleError('VERIFIER_KEY_INVALID', `invalid verifier key: ${why}`);
  if (typeof vkey !== 'string' || vkey.length > 4096) throw bad('not a string of reasonable length');
  // The key name cannot contain '+', the key id is hex: the first two '+' split; base64 may contain more.
  const first = vkey.indexOf('+');
  const second = first < 0 ? -1 : vkey.indexOf('+', first + 1);
  if (second < 0) throw bad('want <name>+<key id>+<key>');
  const name = vkey.slice(0, first);
  const id = vkey.slice(first + 1, second);
  const b64 = vkey.slice(second + 1);
  if (!isValidKeyName(name)) throw bad('invalid key name');
  if (!/^[0-9a-f]{8}$/.test(id)) throw bad('key id is not 8 lowercase hex digits');
  let raw: Uint8Array;
  try {
    raw = fromBase64(b64);
  } catch (e) {
    throw new MerkleError('VERIFIER_KEY_INVALID', 'invalid verifier key: bad base64', { cause: e });
  }
  if (raw.length < 2) throw bad('no key material');
  return { name, keyId: parseInt(id, 16), type: raw[0], publicKey: raw.slice(1) };
}

/** The vkey of an Ed25519 note key (type 0x01). */
export async function ed25519VerifierKey(name: string, publicKey: Uint8Array): Promise<string> {
  checkEd25519Key(publicKey);
  const keyId = await noteKeyId(name, SIGNATURE_TYPE_ED25519, publicKey);
  return formatVerifierKey({ name, keyId, type: SIGNATURE_TYPE_ED25519, publicKey });
}

/** A verifier for an Ed25519 (type 0x01) vkey; the key ID must be the one the spec derives. */
export async function createEd25519Verifier(vkey: string): Promise<NoteVerifier> {
  const key = await importEd25519VerifierKey(vkey, SIGNATURE_TYPE_ED25519);
  return {
    name: key.name,
    keyId: key.keyId,
    verify: (text, signature) => ed25519Verify(key.cryptoKey, signature, text)
  };
}

/** An Ed25519 (type 0x01) note signer from a WebCrypto key pair. */
export async function createEd25519Signer(
  name: string,
  keyPair: CryptoKeyPair
): Promise<NoteSigner & { readonly verifierKey: string }> {
  const publicKey = await exportEd25519PublicKey(keyPair);
  const verifierKey = await ed25519VerifierKey(name, publicKey);
  return {
    name,
    keyId: await noteKeyId(name, SIGNATURE_TYPE_ED25519, publicKey),
    verifierKey,
    sign: async (text) => new Uint8Array(await crypto.subtle.sign(ED25519, keyPair.privateKey, text as BufferSource))
  };
}

/** Splits a note into text and signature lines, checking syntax only. */
export function parseNote(msg: string | Uint8Array): Note {
  const text = decodeNote(msg);
  if (CONTROL.test(text)) throw malformed('control character');
  const split = text.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before the signatures');
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw malformed('signature block must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw malformed(`more than ${MAX_NOTE_SIGNATURES} signatures`);
  const signatures = lines.map((line): NoteSignature => {
    if (!line.startsWith(SIG_PREFIX)) throw malformed('signature line does not start with an em dash and a space');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const b64 = space < 0 ? '' : rest.slice(space + 1);
    if (!isValidKeyName(name)) throw malformed('invalid key name in a signature line');
    let raw: Uint8Array;
    try {
      raw = fromBase64(b64);
    } catch {
      throw malformed('signature is not canonical base64');
    }
    if (raw.length < 5) throw malformed('signature too short');
    return { name, keyId: readUint32(raw), signature: raw.slice(4) };
  });
  return { text: body, signatures };
}

/** Serializes a note: text, blank line, signature lines. */
export function formatNote(note: Note): string {
  checkText(note.text);
  const lines = note.signatures.map((s) => {
    if (!isValidKeyName(s.name))
      throw new MerkleError('KEY_NAME_INVALID', `invalid key name ${JSON.stringify(s.name)}`);
    if (!Number.isInteger(s.keyId) || s.keyId < 0 || s.keyId > 0xffffffff) throw malformed('key id is not a uint32');
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, s.keyId);
    return `${SIG_PREFIX}${s.name} ${toBase64(concatBytes(id, s.signature))}\n`;
  });
  const out = `${note.text}\n${lines.join('')}`;
  parseNote(out); // limits (size, signature count) hold for what we emit too
  return out;
}

/**
 * Parses and verifies a note against known verifiers. Throws NOTE_MALFORMED, NOTE_SIGNATURE_INVALID (a known key's
 * signature fails), VERIFIER_AMBIGUOUS (two known verifiers share name and key ID) or NOTE_UNVERIFIED.
 */
export async function openNote(msg: string | Uint8Array, verifiers: readonly NoteVerifier[]): Promise<VerifiedNote> {
  const note = parseNote(msg);
  const known = new Map<string, NoteVerifier[]>();
  for (const v of verifiers) {
    const k = keyOf(v.name, v.keyId);
    known.set(k, [...(known.get(k) ?? []), v]);
  }
  const text = utf8(note.text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of note.signatures) {
    const k = keyOf(sig.name, sig.keyId);
    const matches = known.get(k);
    if (!matches) {
      const line = `${k} ${toBase64(sig.signature)}`;
      if (!seen.has(line)) unverified.push(sig); // drop repeated identical unknown signatures
      seen.add(line);
      continue;
    }
    if (matches.length > 1) {
      throw new MerkleError('VERIFIER_AMBIGUOUS', `several known keys are ${sig.name}+${keyIdHex(sig.keyId)}`);
    }
    let ok = false;
    let cause: unknown;
    try {
      ok = await matches[0].verify(text, sig.signature);
    } catch (e) {
      cause = e;
    }
    if (!ok) {
      throw new MerkleError('NOTE_SIGNATURE_INVALID', `invalid signature for key ${sig.name}+${keyIdHex(sig.keyId)}`, {
        detail: { name: sig.name, keyId: keyIdHex(sig.keyId) },
        cause
      });
    }
    if (!seen.has(k)) verified.push(sig); // every signature of a known key is checked, each key listed once
    seen.add(k);
  }
  if (verified.length === 0) {
    throw new MerkleError('NOTE_UNVERIFIED', 'the note has no signature from a known key', {
      detail: { signatures: note.signatures.map((s) => `${s.name}+${keyIdHex(s.keyId)}`) }
    });
  }
  return { text: note.text, verified, unverified };
}

/**
 * Signs text with each signer and returns the note. Signatures in `keep` come first, except those by a key that
 * signs again here, which are replaced.
 */
export async function signNote(
  text: string,
  signers: readonly NoteSigner[],
  keep: readonly NoteSignature[] = []
): Promise<string> {
  checkText(text);
  const bytes = utf8(text);
  const fresh: NoteSignature[] = [];
  for (const s of signers) {
    if (!isValidKeyName(s.name))
      throw new MerkleError('KEY_NAME_INVALID', `invalid signer name ${JSON.stringify(s.name)}`);
    fresh.push({ name: s.name, keyId: s.keyId, signature: await s.sign(bytes) });
  }
  const replaced = new Set(fresh.map((s) => keyOf(s.name, s.keyId)));
  const kept = keep.filter((s) => !replaced.has(keyOf(s.name, s.keyId)));
  return formatNote({ text, signatures: [...kept, ...fresh] });
}

/**
 * Imports a vkey of the given signature type that carries a 32-byte Ed25519 key (0x01 notes, 0x04 cosignatures),
 * checking that its key ID is SHA-256(name || 0x0A || type || key)[:4].
 */
export async function importEd25519VerifierKey(
  vkey: string,
  type: number
): Promise<VerifierKey & { readonly cryptoKey: CryptoKey }> {
  const key = parseVerifierKey(vkey);
  if (key.type !== type) {
    throw new MerkleError(
      'VERIFIER_KEY_INVALID',
      `verifier key type is 0x${key.type.toString(16)}, want 0x${type.toString(16)}`
    );
  }
  if (key.publicKey.length !== ED25519_KEY_SIZE) {
    throw new MerkleError('VERIFIER_KEY_INVALID', `Ed25519 public keys are ${ED25519_KEY_SIZE} bytes`);
  }
  if (key.keyId !== (await noteKeyId(key.name, type, key.publicKey))) {
    throw new MerkleError('VERIFIER_KEY_INVALID', 'key id does not match the name and key');
  }
  let cryptoKey: CryptoKey;
  try {
    cryptoKey = await crypto.subtle.importKey('raw', key.publicKey as BufferSource, ED25519, true, ['verify']);
  } catch (e) {
    throw new MerkleError('VERIFIER_KEY_INVALID', 'not an Ed25519 public key', { cause: e });
  }
  return { ...key, cryptoKey };
}

/** The raw 32-byte public key of an Ed25519 WebCrypto key pair. */
export async function exportEd25519PublicKey(keyPair: CryptoKeyPair): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('raw', keyPair.publicKey));
}

/** Ed25519 verification that answers false for malformed input instead of throwing. */
export async function ed25519Verify(key: CryptoKey, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIG_SIZE) return false;
  try {
    return await crypto.subtle.verify(ED25519, key, signature as BufferSource, message as BufferSource);
  } catch {
    return false;
  }
}

function checkEd25519Key(publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_KEY_SIZE) {
    throw new MerkleError('VERIFIER_KEY_INVALID', `Ed25519 public keys are ${ED25519_KEY_SIZE} bytes`);
  }
}

function decodeNote(msg: string | Uint8Array): string {
  if (msg instanceof Uint8Array) {
    if (msg.length > MAX_NOTE_BYTES) throw malformed('note too large');
    try {
      return decoder.decode(msg);
    } catch {
      throw malformed('not UTF-8');
    }
  }
  if (typeof msg !== 'string') throw malformed('not a string');
  if (msg.length > MAX_NOTE_BYTES || utf8(msg).length > MAX_NOTE_BYTES) throw malformed('note too large');
  if (LONE_SURROGATE.test(msg)) throw malformed('not valid Unicode');
  return msg;
}

function checkText(text: string): void {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw malformed('note text must end with a newline');
  if (CONTROL.test(text) || LONE_SURROGATE.test(text)) throw malformed('control character or invalid Unicode in text');
}

function malformed(why: string): MerkleError {
  return new MerkleError('NOTE_MALFORMED', `malformed note: ${why}`);
}

function readUint32(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

function keyIdHex(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

function keyOf(name: string, keyId: number): string {
  return `${name}+${keyIdHex(keyId)}`;
}

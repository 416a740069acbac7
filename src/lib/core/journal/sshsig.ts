/**
 * OpenSSH signatures (PROTOCOL.sshsig) with Ed25519 keys, as `git` writes and checks them with
 * `gpg.format=ssh`: namespace "git", hash sha512. Pure: the signer signs the bytes, this file frames them.
 *
 *   signed data = "SSHSIG" || string(namespace) || string(reserved="") || string(hash_alg) || string(H(message))
 *   blob        = "SSHSIG" || uint32(1) || string(publickey) || string(namespace) || string(reserved)
 *                 || string(hash_alg) || string(signature)
 *   publickey   = string("ssh-ed25519") || string(32-byte key);  signature = string("ssh-ed25519") || string(64 bytes)
 *   armored     = "-----BEGIN SSH SIGNATURE-----\n" base64(blob) in 70-column lines "\n-----END SSH SIGNATURE-----"
 */
import { bytesEqual, concatBytes, fromBase64, fromBase64url, fromUtf8, toBase64, toBase64url, utf8 } from '../bytes.ts';
import { type PublicKey, type Signer, verifySignature } from '../keys.ts';
import { createSHA512, type IHasher } from 'hash-wasm';
import { ErrorCode, LedgerError } from '../errors.ts';

export const SSHSIG_NAMESPACE = 'git';
export const SSHSIG_HASH = 'sha512';
const MAGIC = utf8('SSHSIG');
const KEY_TYPE = 'ssh-ed25519';
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
const LINE = 70;

function u32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

/** SSH wire "string": uint32 length then the bytes. */
function sshString(b: Uint8Array | string): Uint8Array {
  const bytes = typeof b === 'string' ? utf8(b) : b;
  return concatBytes(u32(bytes.length), bytes);
}

/** The public key in SSH wire form (what `ssh-ed25519 AAAA...` base64-encodes). */
export function sshPublicKeyBlob(key: PublicKey | string): Uint8Array {
  return concatBytes(sshString(KEY_TYPE), sshString(fromBase64url(key)));
}

/** The one-line OpenSSH public key: `ssh-ed25519 AAAA...` (allowed-signers files hold this). */
export function sshPublicKeyLine(key: PublicKey | string): string {
  return `${KEY_TYPE} ${toBase64(sshPublicKeyBlob(key))}`;
}

let sha512h: IHasher | undefined;
let sha512Ready: Promise<IHasher> | undefined;

/**
 * SHA-512 through hash-wasm: synchronous once loaded. A WebCrypto digest is a thread-pool job per call, which for
 * one short commit per event costs several times the hashing itself.
 */
async function sha512(message: Uint8Array | string): Promise<Uint8Array> {
  const h = sha512h ?? (await (sha512Ready ??= createSHA512().then((x) => (sha512h = x))));
  h.init();
  h.update(message);
  return h.digest('binary');
}

/** Everything before the hash in the signed data, by namespace (one commit per event: computed once). */
const signedPrefixes = new Map<string, Uint8Array>();

/** The bytes the key actually signs for `message` (a string: its UTF-8 bytes). */
export async function sshsigSignedData(
  message: Uint8Array | string,
  namespace = SSHSIG_NAMESPACE
): Promise<Uint8Array> {
  let prefix = signedPrefixes.get(namespace);
  if (!prefix)
    signedPrefixes.set(
      namespace,
      (prefix = concatBytes(MAGIC, sshString(namespace), sshString(''), sshString(SSHSIG_HASH)))
    );
  const digest = await sha512(message);
  const out = new Uint8Array(prefix.length + 4 + digest.length); // prefix || string(digest)
  out.set(prefix);
  new DataView(out.buffer).setUint32(prefix.length, digest.length);
  out.set(digest, prefix.length + 4);
  return out;
}

/** Everything before the signature in a blob, by key and namespace (a team has few keys). */
const blobPrefixes = new Map<string, Uint8Array>();
const SIG_TYPE = sshString(KEY_TYPE);

export function sshsigBlob(key: PublicKey | string, signature: Uint8Array, namespace = SSHSIG_NAMESPACE): Uint8Array {
  const id = `${namespace}\n${key}`;
  let prefix = blobPrefixes.get(id);
  if (!prefix) {
    prefix = concatBytes(
      MAGIC,
      u32(1),
      sshString(sshPublicKeyBlob(key)),
      sshString(namespace),
      sshString(''),
      sshString(SSHSIG_HASH)
    );
    if (blobPrefixes.size > 4096) blobPrefixes.clear();
    blobPrefixes.set(id, prefix);
  }
  // prefix || string(string("ssh-ed25519") || string(signature))
  const out = new Uint8Array(prefix.length + 8 + SIG_TYPE.length + signature.length);
  const view = new DataView(out.buffer);
  out.set(prefix);
  let at = prefix.length;
  view.setUint32(at, SIG_TYPE.length + 4 + signature.length);
  out.set(SIG_TYPE, (at += 4));
  view.setUint32((at += SIG_TYPE.length), signature.length);
  out.set(signature, at + 4);
  return out;
}

/** The armored form, lines joined by "\n", no final newline. */
export function armorSshsig(blob: Uint8Array): string {
  const b64 = toBase64(blob);
  const lines = [BEGIN];
  for (let i = 0; i < b64.length; i += LINE) lines.push(b64.slice(i, i + LINE));
  lines.push(END);
  return lines.join('\n');
}

/** Signs `message` as `ssh-keygen -Y sign -n git` would; returns the raw 64-byte Ed25519 signature. */
export async function signSshsig(
  signer: Signer,
  message: Uint8Array,
  namespace = SSHSIG_NAMESPACE
): Promise<Uint8Array> {
  return signer.sign(await sshsigSignedData(message, namespace));
}

export interface ParsedSshsig {
  /** base64url raw Ed25519 key, the ledger's spelling. */
  publicKey: string;
  namespace: string;
  hashAlg: string;
  signature: Uint8Array;
}

const malformed = (message: string) => new LedgerError(ErrorCode.SIGNATURE, message);

/**
 * Parses an armored signature (attacker-controlled: every length is checked). Throws a LedgerError
 * (SIGNATURE_INVALID) naming the defect; only Ed25519 version-1 signatures with an empty reserved field are
 * accepted.
 */
export function parseArmoredSshsig(armored: string): ParsedSshsig {
  const lines = armored.trim().split('\n');
  if (lines[0] !== BEGIN || lines[lines.length - 1] !== END) throw malformed('not an armored SSH signature');
  const blob = fromBase64(lines.slice(1, -1).join(''));
  let at = 0;
  const take = (n: number): Uint8Array => {
    if (at + n > blob.length) throw malformed('SSH signature truncated');
    const out = blob.subarray(at, at + n);
    at += n;
    return out;
  };
  const readU32 = () => {
    const b = take(4);
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  };
  const readString = () => take(readU32());
  if (!bytesEqual(take(6), MAGIC)) throw malformed('SSH signature: bad magic');
  if (readU32() !== 1) throw malformed('SSH signature: unsupported version');
  const pub = readString();
  const namespace = fromUtf8(readString());
  if (readString().length !== 0) throw malformed('SSH signature: reserved field not empty');
  const hashAlg = fromUtf8(readString());
  const sig = readString();
  if (at !== blob.length) throw malformed('SSH signature: trailing bytes');
  const inner = (b: Uint8Array, what: string): Uint8Array => {
    let i = 0;
    const str = () => {
      if (i + 4 > b.length) throw malformed(`SSH signature: bad ${what}`);
      const n = ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
      if (i + 4 + n > b.length) throw malformed(`SSH signature: bad ${what}`);
      const out = b.subarray(i + 4, i + 4 + n);
      i += 4 + n;
      return out;
    };
    if (fromUtf8(str()) !== KEY_TYPE) throw malformed(`SSH signature: ${what} is not ${KEY_TYPE}`);
    const v = str();
    if (i !== b.length) throw malformed(`SSH signature: trailing bytes in ${what}`);
    return v;
  };
  const key = inner(pub, 'public key');
  const signature = inner(sig, 'signature');
  if (key.length !== 32 || signature.length !== 64) throw malformed('SSH signature: bad Ed25519 sizes');
  return { publicKey: toBase64url(key), namespace, hashAlg, signature };
}

/** True when `armored` is a valid git-namespace sshsig of `message` by `publicKey`. */
export async function verifySshsig(armored: string, message: Uint8Array, publicKey: string): Promise<boolean> {
  let p: ParsedSshsig;
  try {
    p = parseArmoredSshsig(armored);
  } catch {
    return false;
  }
  if (p.publicKey !== publicKey || p.namespace !== SSHSIG_NAMESPACE || p.hashAlg !== SSHSIG_HASH) return false;
  return verifySignature(publicKey, await sshsigSignedData(message), p.signature);
}

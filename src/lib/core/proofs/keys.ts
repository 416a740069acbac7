/**
 * Names and keys of a device's log (ledger-schema/README.md section 13).
 *
 *   origin (= the log's note key name)  provenance-ledger/<ledger id, first 16 hex>/<device key fingerprint>
 *   witness name (cosigner key name)    provenance-ledger-witness/<ledger id, first 16 hex>/<device key fingerprint>
 *   fingerprint                         first 16 hex digits of SHA-256(raw 32-byte Ed25519 public key)
 *
 * The device key signs events (DSSE PAE, which starts "DSSEv1 "), checkpoints (text starting
 * "provenance-ledger/") and cosignatures (message starting "cosignature/v1\n"): the three messages can never be
 * mistaken for one another. The key is used through the Signer interface only, so private keys never leave it.
 */
import { fromBase64url, toHex } from '../bytes.ts';
import { initHash, sha256Sync } from '../hash.ts';
import type { Signer } from '../keys.ts';
import { parseCheckpoint } from '../merkle/checkpoint.ts';
import { cosignatureMessage, cosignatureVerifierKey, SIGNATURE_TYPE_COSIGNATURE_V1 } from '../merkle/cosignature.ts';
import { ed25519VerifierKey, noteKeyId, SIGNATURE_TYPE_ED25519, type NoteSigner } from '../merkle/note.ts';

export const ORIGIN_PREFIX = 'provenance-ledger';
export const WITNESS_PREFIX = 'provenance-ledger-witness';

/** First 16 hex digits of SHA-256 of the raw public key (the CLI's key fingerprint). */
export async function fingerprint(publicKey: string): Promise<string> {
  await initHash();
  return toHex(sha256Sync(fromBase64url(publicKey))).slice(0, 16);
}

/** The checkpoint origin (and log key name) of a device's log in a ledger. */
export async function logOrigin(ledgerId: string, publicKey: string): Promise<string> {
  return `${ORIGIN_PREFIX}/${ledgerId.slice(0, 16)}/${await fingerprint(publicKey)}`;
}

/** The cosigner name of a device witnessing the logs of a ledger. */
export async function witnessName(ledgerId: string, publicKey: string): Promise<string> {
  return `${WITNESS_PREFIX}/${ledgerId.slice(0, 16)}/${await fingerprint(publicKey)}`;
}

/** The log's vkey (signed-note verifier key, type 0x01) for a device key. */
export async function logVerifierKey(ledgerId: string, publicKey: string): Promise<string> {
  return ed25519VerifierKey(await logOrigin(ledgerId, publicKey), fromBase64url(publicKey));
}

/** The witness's vkey (type 0x04) for a device key. */
export async function witnessVerifierKey(ledgerId: string, publicKey: string): Promise<string> {
  return cosignatureVerifierKey(await witnessName(ledgerId, publicKey), fromBase64url(publicKey));
}

/** A signed-note signer (type 0x01) over the device's Signer. */
export async function logNoteSigner(ledgerId: string, signer: Signer): Promise<NoteSigner & { verifierKey: string }> {
  const name = await logOrigin(ledgerId, signer.publicKey);
  const raw = fromBase64url(signer.publicKey);
  return {
    name,
    keyId: await noteKeyId(name, SIGNATURE_TYPE_ED25519, raw),
    verifierKey: await ed25519VerifierKey(name, raw),
    sign: (text) => signer.sign(text)
  };
}

/**
 * A cosigner (type 0x04, timestamped Ed25519) over the device's Signer. It signs only well-formed checkpoint text;
 * call it only after checking consistency (witness.ts does).
 */
export async function witnessCosigner(
  ledgerId: string,
  signer: Signer,
  now: () => number = () => Math.floor(Date.now() / 1000)
): Promise<NoteSigner & { verifierKey: string }> {
  const name = await witnessName(ledgerId, signer.publicKey);
  const raw = fromBase64url(signer.publicKey);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return {
    name,
    keyId: await noteKeyId(name, SIGNATURE_TYPE_COSIGNATURE_V1, raw),
    verifierKey: await cosignatureVerifierKey(name, raw),
    async sign(text) {
      parseCheckpoint(decoder.decode(text));
      const timestamp = now();
      const sig = await signer.sign(cosignatureMessage(text, timestamp));
      const out = new Uint8Array(8 + sig.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(timestamp));
      out.set(sig, 8);
      return out;
    }
  };
}

/**
 * The commit of one event, fully determined by the event:
 *
 *   blob    event.json = the signed envelope's canonical JSON (exactly the bytes the ledger stores)
 *   tree    { 100644 event.json }                     (one entry: trees never grow with the ledger)
 *   commit  tree, parent = the commit of each event in `parents` (in the event's order, which is sorted),
 *           author = committer = "<member name> <<key id>@provenance-ledger.invalid> <event time, s> +0000",
 *           gpgsig = the author's sshsig (namespace git, sha512) over the commit without that header,
 *           message = commitMessage(event)
 *
 * Ed25519 signatures are deterministic, so the author's key produces the same signature, and the same commit id,
 * wherever it signs. A device that does not hold the key rebuilds the identical commit from the event plus the
 * 64 signature bytes (what a pull receives).
 */
import { canonicalJson } from '../canonical.ts';
import { concatBytes, fromBase64url, toHex, utf8 } from '../bytes.ts';
import type { LedgerEvent } from '../event.ts';
import type { Signer } from '../keys.ts';
import { commitMessage, oneLine } from './message.ts';
import { gitObjectSync, initSha1, treeContent, type GitObject } from './objects.ts';
import { armorSshsig, signSshsig, sshsigBlob } from './sshsig.ts';

export const EVENT_FILE = 'event.json';
export const EMAIL_DOMAIN = 'provenance-ledger.invalid';

export interface EventCommitInput {
  ev: LedgerEvent;
  /** Commit ids of the event's parents, in the order of `ev.event.parents`. */
  parentOids: string[];
  /** The author's member name in the roster of the event's past (AuthorNames). */
  authorName: string;
}

export interface EventCommit {
  blob: GitObject;
  tree: GitObject;
  commit: GitObject;
  /** The raw 64-byte Ed25519 signature inside the sshsig. */
  signature: Uint8Array;
}

/** The key id in the synthetic e-mail: the first 8 bytes of the raw public key, in hex. */
export const keyId = (publicKey: string): string => toHex(fromBase64url(publicKey)).slice(0, 16);

/** A Git identity name: no angle brackets or control characters, never empty. */
export function identName(name: string, fallback: string): string {
  const clean = oneLine(name.replace(/[<>]/g, ''));
  return clean || fallback;
}

export function envelopeBytes(ev: LedgerEvent): Uint8Array {
  return utf8(canonicalJson({ event: ev.event, sig: ev.sig }));
}

/** The commit content without gpgsig: what the author signs. */
export function unsignedCommit(input: EventCommitInput, treeOid: string): Uint8Array {
  const { ev } = input;
  const seconds = Math.floor(Date.parse(ev.event.time) / 1000);
  const id = keyId(ev.event.author);
  const who = `${identName(input.authorName, id)} <${id}@${EMAIL_DOMAIN}> ${seconds} +0000`;
  const head = [`tree ${treeOid}`, ...input.parentOids.map((p) => `parent ${p}`), `author ${who}`, `committer ${who}`];
  return utf8(`${head.join('\n')}\n\n${commitMessage(ev)}`);
}

/** Inserts the gpgsig header after the other headers, as git does (continuation lines start with a space). */
export function insertSignature(unsigned: Uint8Array, armored: string): Uint8Array {
  // Spliced as bytes: the headers end at the first blank line ("\n\n"), which UTF-8 never hides inside a character.
  for (let i = 0; i + 1 < unsigned.length; i++) {
    if (unsigned[i] === 10 && unsigned[i + 1] === 10) {
      return concatBytes(
        unsigned.subarray(0, i),
        utf8(`\ngpgsig ${armored.split('\n').join('\n ')}`),
        unsigned.subarray(i)
      );
    }
  }
  const text = new TextDecoder().decode(unsigned);
  const end = text.indexOf('\n\n');
  const header = `gpgsig ${armored.split('\n').join('\n ')}`;
  return utf8(`${text.slice(0, end)}\n${header}${text.slice(end)}`);
}

/**
 * The blob and tree of an event (sync: initSha1() must have been awaited). `envelope`, when given, must be the
 * envelope's canonical JSON bytes as stored (checked canonical on receipt), which saves serializing it again.
 */
export function eventTree(ev: LedgerEvent, envelope?: Uint8Array): { blob: GitObject; tree: GitObject } {
  const blob = gitObjectSync('blob', envelope ?? envelopeBytes(ev));
  const tree = gitObjectSync('tree', treeContent([{ mode: '100644', name: EVENT_FILE, oid: blob.oid }]));
  return { blob, tree };
}

/** The signed commit content: the unsigned content with the author's sshsig in a gpgsig header. */
export function signedCommitContent(author: string, unsigned: Uint8Array, signature: Uint8Array): Uint8Array {
  return insertSignature(unsigned, armorSshsig(sshsigBlob(author, signature)));
}

/**
 * Builds the commit from the event and its 64-byte signature (does not check the signature). Synchronous:
 * initSha1() must have been awaited.
 */
export function buildEventCommit(
  input: EventCommitInput,
  signature: Uint8Array,
  tree = eventTree(input.ev)
): EventCommit & { unsigned: Uint8Array } {
  const unsigned = unsignedCommit(input, tree.tree.oid);
  const commit = gitObjectSync('commit', signedCommitContent(input.ev.event.author, unsigned, signature));
  return { blob: tree.blob, tree: tree.tree, commit, signature, unsigned };
}

/** Builds and signs the commit (the signer must be the event's author). */
export async function signEventCommit(input: EventCommitInput, signer: Signer): Promise<EventCommit> {
  if (signer.publicKey !== input.ev.event.author) throw new TypeError('only the author of an event signs its commit');
  await initSha1();
  const tree = eventTree(input.ev);
  const unsigned = unsignedCommit(input, tree.tree.oid);
  return buildEventCommit(input, await signSshsig(signer, unsigned), tree);
}

/**
 * Rebuilds the commit from the event and a signature found elsewhere (does not check the signature). With
 * `envelope`, the blob is those bytes as received (a commit holding non-canonical JSON then still matches here,
 * and is refused by the event checks, which require canonical bytes).
 */
export async function rebuildEventCommit(
  input: EventCommitInput,
  signature: Uint8Array,
  envelope?: Uint8Array
): Promise<EventCommit & { unsigned: Uint8Array }> {
  await initSha1();
  return buildEventCommit(input, signature, eventTree(input.ev, envelope));
}

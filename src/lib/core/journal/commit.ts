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
import { concatBytes, fromBase64url, hexInto, toHex, utf8 } from '../bytes.ts';
import type { LedgerEvent } from '../event.ts';
import type { Signer } from '../keys.ts';
import { commitMessage, oneLine } from './message.ts';
import { gitObjectOfText, gitObjectSync, initSha1, type GitObject } from './objects.ts';
import { armorSshsig, signSshsig, sshsigBlob } from './sshsig.ts';

export const EVENT_FILE = 'event.json';
const TREE_ENTRY_HEAD = utf8(`100644 ${EVENT_FILE}\0`);
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

/** The commit's header lines (joined by "\n"; each one line: names go through identName) and its message. */
function commitText(input: EventCommitInput, treeOid: string): { head: string; message: string } {
  const { ev } = input;
  const seconds = Math.floor(Date.parse(ev.event.time) / 1000);
  const id = keyId(ev.event.author);
  const who = `${identName(input.authorName, id)} <${id}@${EMAIL_DOMAIN}> ${seconds} +0000`;
  let head = `tree ${treeOid}`;
  for (const p of input.parentOids) head += `\nparent ${p}`;
  head += `\nauthor ${who}\ncommitter ${who}`;
  return { head, message: commitMessage(ev) };
}

/** The commit content without gpgsig: what the author signs. */
export function unsignedCommit(input: EventCommitInput, treeOid: string): Uint8Array {
  const { head, message } = commitText(input, treeOid);
  return utf8(`${head}\n\n${message}`);
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
 * envelope's canonical JSON as stored, bytes or text (checked canonical on receipt), which saves serializing it
 * again.
 */
export function eventTree(ev: LedgerEvent, envelope?: Uint8Array | string): { blob: GitObject; tree: GitObject } {
  const blob =
    typeof envelope === 'string'
      ? gitObjectOfText('blob', envelope)
      : gitObjectSync('blob', envelope ?? envelopeBytes(ev));
  // treeContent([{ mode: '100644', name: EVENT_FILE, oid: blob.oid }]), written in place.
  const content = new Uint8Array(TREE_ENTRY_HEAD.length + 20);
  content.set(TREE_ENTRY_HEAD);
  hexInto(blob.oid, content, TREE_ENTRY_HEAD.length);
  const tree = gitObjectSync('tree', content);
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
): EventCommit & { unsigned: Uint8Array; unsignedText: string } {
  // As insertSignature(unsigned, armored) splices it, from the text: the headers hold no blank line, so the
  // gpgsig header goes between them and the "\n\n" before the message. Hashed as text (bytes made if read).
  const { head, message } = commitText(input, tree.tree.oid);
  const unsignedText = `${head}\n\n${message}`;
  const armored = armorSshsig(sshsigBlob(input.ev.event.author, signature));
  const commit = gitObjectOfText('commit', `${head}\ngpgsig ${armored.split('\n').join('\n ')}\n\n${message}`);
  let unsigned: Uint8Array | undefined;
  return {
    blob: tree.blob,
    tree: tree.tree,
    commit,
    signature,
    unsignedText,
    get unsigned() {
      return (unsigned ??= utf8(unsignedText));
    }
  };
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
): Promise<EventCommit & { unsigned: Uint8Array; unsignedText: string }> {
  await initSha1();
  return buildEventCommit(input, signature, eventTree(input.ev, envelope));
}

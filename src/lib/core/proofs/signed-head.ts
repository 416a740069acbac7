/**
 * Verification by signed tree heads (ledger-schema/README.md section 11, "What each mode proves").
 *
 * A checkpoint signed by device key K commits, through its root, to the exact bytes of every leaf of K's log up
 * to its size, and a leaf's data is the event's whole signed envelope, `JCS({"event": …, "sig": …})`, signature
 * included. So an event authored by K whose stored envelope is one of those leaves is covered by K's signature
 * already: checking its own Ed25519 signature again proves nothing more. This module finds those events:
 *
 *  1. the leaves are recomputed from the stored envelopes, in the order the log names them (log/leaves gives
 *     the event ids; its stored leaf hashes are not trusted, and are not read);
 *  2. the root of the first `size` recomputed leaves must equal the checkpoint's root;
 *  3. the checkpoint's signature must verify under the log key of K, the author whose origin the checkpoint
 *     names (one Ed25519 check).
 *
 * The newest checkpoint that passes, of the newest few, is used. Anything that fails (a damaged or missing envelope, leaf, id or
 * checkpoint, a checkpoint whose origin is no author's) covers nothing: those events are checked one by one, so
 * damage is found and named as before. The caller still checks every covered event's bytes, schema, id and
 * ledger, and that its author is K (only K's events are covered by K's signature); membership is decided apart.
 */
import { toHex } from '../bytes.ts';
import { openCheckpoint, parseCheckpoint } from '../merkle/checkpoint.ts';
import { createTreeHasher, HASH_SIZE } from '../merkle/hash.ts';
import { createEd25519Verifier, parseNote } from '../merkle/note.ts';
import { MerkleTree } from '../merkle/tree.ts';
import { fromUtf8 } from '../bytes.ts';
import type { StorageAdapter } from '../storage.ts';
import { logOrigin, logVerifierKey } from './keys.ts';

/** Events covered by a signed tree head: id → the envelope JSON whose bytes the head commits to, and its signer. */
export type Covered = Map<string, { json: string; key: string }>;

export interface SignedHead {
  /** The checkpoint used: its size and the device key that signed it (size 0: none). */
  size: number;
  key?: string;
  covered: Covered;
  /** The checkpoint's root, the ids of its leaves in order, and its note's text (size > 0). */
  root?: Uint8Array;
  ids?: string[];
  note?: string;
}

const NONE: SignedHead = { size: 0, covered: new Map() };
/** The newest checkpoints tried (a device signs one per batch: a damaged leaf would fail every later one). */
const TRIED = 8;
const SIZE_NAME = /^[0-9]{16}$/;
/** A canonical envelope starts with its event's first member, `author` (JCS sorts members). */
const AUTHOR = /^\{"event":\{"author":"([A-Za-z0-9_-]{43})"/;

const encoder = new TextEncoder();

/**
 * Leaf hashes of envelopes by id order, recomputed: `leafAt(i)` is SHA-256(0x00 || stored envelope of ids[i]),
 * or undefined when the envelope is not held. Roots are taken at each wanted size.
 */
async function rootsAt(
  ids: string[],
  envelope: (id: string) => string | undefined,
  sizes: number[]
): Promise<Map<number, Uint8Array>> {
  const hasher = await createTreeHasher();
  const want = new Set(sizes);
  const last = Math.max(...sizes);
  const tree = new MerkleTree(hasher, null);
  const roots = new Map<number, Uint8Array>();
  let scratch = new Uint8Array(1 << 14);
  for (let i = 0; i < last && i < ids.length; i++) {
    const json = envelope(ids[i]);
    if (json === undefined) break; // the root cannot be recomputed past an envelope not held
    if (json.length * 3 > scratch.length) scratch = new Uint8Array(json.length * 3);
    tree.append(hasher.hashLeaf(scratch.subarray(0, encoder.encodeInto(json, scratch).written)));
    if (want.has(tree.size)) roots.set(tree.size, tree.root());
  }
  return roots;
}

/** The event ids of a stored device log, in leaf order (entries past the stored chunks' ends are not there). */
async function logIds(storage: StorageAdapter): Promise<string[]> {
  const chunks = (await storage.loadRange(['log', 'leaves'])).filter(
    (c) => c.key.length === 3 && /^[0-9]{8}$/.test(c.key[2])
  );
  chunks.sort((a, b) => (a.key[2] < b.key[2] ? -1 : a.key[2] > b.key[2] ? 1 : 0));
  const ids: string[] = [];
  for (const [n, c] of chunks.entries()) {
    if (Number(c.key[2]) !== n) break; // a chunk missing: the order stops there
    for (let o = 0; o + 2 * HASH_SIZE <= c.data.length; o += 2 * HASH_SIZE)
      ids.push(toHex(c.data.subarray(o, o + HASH_SIZE)));
  }
  return ids;
}

/**
 * The events of `envelopes` (id → stored envelope JSON) that the newest good checkpoint of the device log in
 * `storage` covers. Reads log/leaves and log/checkpoints only; never throws for damaged files (covers nothing).
 */
export async function storedSignedHead(
  storage: StorageAdapter,
  ledgerId: string,
  envelopes: Map<string, string>
): Promise<SignedHead> {
  try {
    const sizes = (await storage.listKeys(['log', 'checkpoints']))
      .filter((k) => k.length === 3 && SIZE_NAME.test(k[2]))
      .map((k) => Number(k[2]))
      .filter((n) => n > 0)
      .sort((a, b) => b - a);
    if (sizes.length === 0) return NONE;
    const ids = await logIds(storage);
    const usable = sizes.filter((s) => s <= ids.length).slice(0, TRIED);
    if (usable.length === 0) return NONE;
    const roots = await rootsAt(ids, (id) => envelopes.get(id), usable);
    for (const size of usable) {
      const root = roots.get(size);
      if (!root) continue;
      const bytes = await storage.load(['log', 'checkpoints', String(size).padStart(16, '0')]);
      if (!bytes) continue;
      const head = await signedHeadOver(fromUtf8(bytes), ledgerId, ids.slice(0, size), (id) => envelopes.get(id), root);
      if (head) return head;
    }
  } catch {
    /* a damaged log covers nothing: every event is checked by itself */
  }
  return NONE;
}

/**
 * Checks one checkpoint note against leaves recomputed from envelopes: the size is ids.length, `root` the root of
 * those leaves (computed by the caller, or here when not given), the signature that of the author whose log key
 * the origin names. Returns the covered events, or undefined when the note does not hold over them.
 */
export async function signedHeadOver(
  note: string,
  ledgerId: string,
  ids: string[],
  envelope: (id: string) => string | undefined,
  root?: Uint8Array
): Promise<SignedHead | undefined> {
  let text;
  try {
    text = parseCheckpoint(parseNote(note).text);
  } catch {
    return undefined;
  }
  if (text.size !== ids.length || ids.length === 0) return undefined;
  root ??= (await rootsAt(ids, envelope, [ids.length])).get(ids.length);
  if (!root || toHex(root) !== toHex(text.rootHash)) return undefined;
  // The signer: an author of these leaves whose log origin the checkpoint names.
  const jsons = ids.map((id) => envelope(id) ?? '');
  const authorOf = jsons.map((json) => AUTHOR.exec(json)?.[1]);
  const authors = new Set<string>();
  for (const a of authorOf) if (a !== undefined) authors.add(a);
  let key: string | undefined;
  for (const a of authors) {
    if ((await logOrigin(ledgerId, a)) === text.origin) {
      key = a;
      break;
    }
  }
  if (!key) return undefined;
  try {
    await openCheckpoint(note, await createEd25519Verifier(await logVerifierKey(ledgerId, key)));
  } catch {
    return undefined;
  }
  const covered: Covered = new Map();
  ids.forEach((id, i) => {
    if (authorOf[i] === key) covered.set(id, { json: jsons[i], key });
  });
  return { size: ids.length, key, covered, root, ids, note };
}

/**
 * A peer's signed tree heads over one sync session (ledger-schema/README.md section 19, "Signed tree heads at
 * sync"). The peer offers its checkpoint with the event ids of its log's leaves from `start` on; this device
 * recomputes those leaves from the envelopes it holds or is receiving, folds them onto the tree it recomputed
 * for the peer's previous head (or an empty tree, start 0), and takes the events the root covers only when the
 * root equals the checkpoint's and the checkpoint verifies under the peer's own log key. Nothing the peer sends
 * is trusted: a wrong id, order, start or note covers nothing, and those events are checked one by one.
 */
export class PeerHeads {
  readonly #ledgerId: string;
  readonly #peerKey: string;
  /** The peer's log as far as a checked head reached: the frontier-only tree of its first `size` leaves. */
  #tree?: MerkleTree;
  #offer?: { start: number; ids: string[]; note: string };

  constructor(ledgerId: string, peerKey: string) {
    this.#ledgerId = ledgerId;
    this.#peerKey = peerKey;
  }

  /** The size of the peer's log this device has checked a head of (0: none). */
  get size(): number {
    return this.#tree?.size ?? 0;
  }

  /** Records the peer's newest offer; false (and ignored) when it does not continue the checked tree. */
  offer(start: number, ids: string[], note: string): boolean {
    if (start !== 0 && start !== this.size) return false;
    this.#offer = { start, ids, note };
    return true;
  }

  /**
   * The events the pending offer covers, given the envelopes held or arriving. On success the checked tree moves
   * to the offer's size and the offer is used up; otherwise it stays pending (the events it needs may come later).
   */
  async cover(envelope: (id: string) => string | undefined): Promise<Covered> {
    const offer = this.#offer;
    if (!offer || offer.ids.length === 0) return new Map();
    let text;
    try {
      text = parseCheckpoint(parseNote(offer.note).text);
    } catch {
      this.#offer = undefined;
      return new Map();
    }
    if (
      text.size !== offer.start + offer.ids.length ||
      text.origin !== (await logOrigin(this.#ledgerId, this.#peerKey))
    ) {
      this.#offer = undefined;
      return new Map();
    }
    const hasher = await createTreeHasher();
    const tree =
      offer.start === 0 || !this.#tree
        ? new MerkleTree(hasher, null)
        : MerkleTree.fromState(hasher, this.#tree.serialize());
    let scratch = new Uint8Array(1 << 14);
    for (const id of offer.ids) {
      const json = envelope(id);
      if (json === undefined) return new Map(); // not all there yet
      if (json.length * 3 > scratch.length) scratch = new Uint8Array(json.length * 3);
      tree.append(hasher.hashLeaf(scratch.subarray(0, encoder.encodeInto(json, scratch).written)));
    }
    if (toHex(tree.root()) !== toHex(text.rootHash)) {
      this.#offer = undefined;
      return new Map();
    }
    try {
      await openCheckpoint(
        offer.note,
        await createEd25519Verifier(await logVerifierKey(this.#ledgerId, this.#peerKey))
      );
    } catch {
      this.#offer = undefined;
      return new Map();
    }
    this.#tree = tree;
    this.#offer = undefined;
    const covered: Covered = new Map();
    for (const id of offer.ids) {
      const json = envelope(id)!;
      if (AUTHOR.exec(json)?.[1] === this.#peerKey) covered.set(id, { json, key: this.#peerKey });
    }
    return covered;
  }
}

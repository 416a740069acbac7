/**
 * The sealed journal: what a ledger pushes to a Git remote unless asked for a readable one. One commit per event,
 * saying nothing a Git host could read: its tree holds one blob, `event.sealed` (AES-256-GCM of the event's
 * envelope and journal signature), its author is the epoch's archive key, its message the event id and epoch.
 *
 * Everything (keys by HKDF from the epoch's team key, a synthetic nonce, the aad, the commit layout) is a
 * function of the event, its signature, the team key and the parents' sealed commits, so every device holding
 * the key builds the same commit id: the construction is ledger-schema/README.md section 18, "The sealed journal".
 *
 * An event's epoch is fixed by its causal history (`SealedEpochs`): the newest epoch whose `covers` removals all
 * lie in its history, so a removed member never holds the key of what was written after its removal.
 * Pure WebCrypto: the browser, a worker, the CLI and tests alike.
 */
import { createHMAC, createSHA256, type IHasher } from 'hash-wasm';
import { bytesEqual, concatBytes, fromHex, utf8 } from '../bytes.ts';
import type { EventId, LedgerEvent } from '../event.ts';
import type { PublicKey, Signer } from '../keys.ts';
import { aeadKey, hkdf, open, seal, type AeadKey } from '../sync/crypto.ts';
import { EMAIL_DOMAIN, envelopeBytes, insertSignature, keyId } from './commit.ts';
import { gitObjectSync, initSha1, treeContent, type GitObject, type ParsedCommit } from './objects.ts';
import { armorSshsig, signSshsig, sshPublicKeyLine, sshsigBlob } from './sshsig.ts';

export const SEALED_CONTEXT = 'provenance-ledger/sealed-journal/v1';
export const SEALED_FILE = 'event.sealed';
export const SEALED_AUTHOR = 'sealed';
const NONCE_LEN = 12;
const SIG_LEN = 64;
const PKCS8_ED25519 = fromHex('302e020100300506032b657004220420');
const ED = { name: 'Ed25519' } as const;

/** The keys of one epoch's sealed journal, derived from its team key. */
export interface ArchiveKey {
  readonly epoch: number;
  /** The removal events the epoch was made after (its team key's `covers`). */
  readonly covers: ReadonlySet<string>;
  readonly aead: AeadKey;
  /** HMAC-SHA256 under the nonce key (hash-wasm: synchronous, one short plaintext per event). */
  readonly nonceMac: IHasher;
  /** The epoch's archive key: it signs the sealed commits of the epoch, and nothing else. */
  readonly signer: Signer;
}

/** The archive keys of a team key epoch (the record `team/key/<n>`: epoch, 32-byte key, covers). */
export async function archiveKey(team: {
  epoch: number;
  key: Uint8Array;
  covers: readonly string[];
}): Promise<ArchiveKey> {
  if (team.key.length !== 32) throw new TypeError('a team key is 32 bytes');
  const okm = await hkdf(team.key, utf8(SEALED_CONTEXT), `epoch ${team.epoch}`, 96);
  const aead = await aeadKey(okm.slice(0, 32));
  const nonceMac = await createHMAC(createSHA256(), okm.slice(32, 64));
  const pkcs8 = concatBytes(PKCS8_ED25519, okm.slice(64, 96));
  const temp = await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, ED, true, ['sign']);
  const publicKey = (await crypto.subtle.exportKey('jwk', temp)).x as PublicKey;
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, ED, false, ['sign']);
  const signer: Signer = {
    publicKey,
    sign: async (m) => new Uint8Array(await crypto.subtle.sign(ED, privateKey, m as BufferSource))
  };
  return { epoch: team.epoch, covers: new Set(team.covers), aead, nonceMac, signer };
}

export const archiveKeys = (
  teams: ReadonlyArray<{ epoch: number; key: Uint8Array; covers: readonly string[] }>
): Promise<ArchiveKey[]> => Promise.all(teams.map(archiveKey));

/** The identity of an epoch's sealed commits. */
export const sealedEmail = (k: ArchiveKey): string => `${keyId(k.signer.publicKey)}@${EMAIL_DOMAIN}`;

/**
 * The allowed-signers lines of the archive keys (ssh-keygen ALLOWED SIGNERS): with them stock git verifies a
 * sealed journal (`git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=F verify-commit C`).
 */
export function sealedAllowedSigners(keys: readonly ArchiveKey[]): string {
  const lines = ['# allowed signers of a sealed journal: the archive key of each team key epoch (provenance-ledger)'];
  for (const k of [...keys].sort((a, b) => a.epoch - b.epoch)) {
    lines.push(`# epoch ${k.epoch}`);
    lines.push(`${sealedEmail(k)} namespaces="git" ${sshPublicKeyLine(k.signer.publicKey)}`);
  }
  return lines.join('\n') + '\n';
}

const aadOf = (epoch: number, id: string): Uint8Array => utf8(`${SEALED_CONTEXT}\nepoch ${epoch}\nevent ${id}`);

function nonceOf(k: ArchiveKey, plaintext: Uint8Array): Uint8Array {
  k.nonceMac.init();
  k.nonceMac.update(plaintext);
  return k.nonceMac.digest('binary').slice(0, NONCE_LEN);
}

/** The blob of an event: nonce ‖ AES-256-GCM(plaintext = journal signature ‖ envelope). Deterministic. */
export async function sealBlob(
  k: ArchiveKey,
  id: string,
  signature: Uint8Array,
  envelope: Uint8Array
): Promise<Uint8Array> {
  if (signature.length !== SIG_LEN) throw new TypeError('a journal signature is 64 bytes');
  const plaintext = concatBytes(signature, envelope);
  const nonce = nonceOf(k, plaintext);
  return concatBytes(nonce, await seal(k.aead, nonce, plaintext, aadOf(k.epoch, id)));
}

/**
 * Opens a sealed blob: the journal signature and the envelope bytes, or undefined when it does not open under
 * this key for this event, or its nonce is not the one the plaintext determines (then it is not the blob this
 * event's commit holds, although it opens).
 */
export async function openBlob(
  k: ArchiveKey,
  id: string,
  blob: Uint8Array
): Promise<{ signature: Uint8Array; envelope: Uint8Array } | undefined> {
  if (blob.length < NONCE_LEN + 16 + SIG_LEN) return undefined;
  const nonce = blob.subarray(0, NONCE_LEN);
  const plaintext = await open(k.aead, nonce, blob.subarray(NONCE_LEN), aadOf(k.epoch, id));
  if (!plaintext || plaintext.length <= SIG_LEN) return undefined;
  if (!bytesEqual(nonceOf(k, plaintext), nonce)) return undefined;
  return { signature: plaintext.slice(0, SIG_LEN), envelope: plaintext.slice(SIG_LEN) };
}

export const sealedMessage = (id: string, epoch: number): string => `event ${id}\n\nEpoch: ${epoch}\n`;
const MESSAGE_RE = /^event ([0-9a-f]{64})\n\nEpoch: ([1-9][0-9]{0,8})\n$/;

/** The event id and epoch a sealed commit's message names; undefined when it is not a sealed commit's message. */
export function parseSealedMessage(message: string): { id: EventId; epoch: number } | undefined {
  const m = MESSAGE_RE.exec(message);
  return m ? { id: m[1] as EventId, epoch: Number(m[2]) } : undefined;
}

/** True when a parsed commit has the shape of a sealed journal's commit (its message and author). */
export const looksSealed = (c: ParsedCommit): boolean =>
  !!parseSealedMessage(c.message) && c.author.startsWith(`${SEALED_AUTHOR} <`);

export interface SealedCommit {
  epoch: number;
  blob: GitObject;
  tree: GitObject;
  commit: GitObject;
}

/**
 * The sealed commit of an event (initSha1() must have been awaited or is awaited here). `parentOids` are the
 * sealed commits of the event's parents in its order; `envelope`, when given, the envelope bytes as stored.
 */
export async function sealEvent(
  k: ArchiveKey,
  ev: LedgerEvent,
  signature: Uint8Array,
  parentOids: readonly string[],
  envelope: Uint8Array = envelopeBytes(ev)
): Promise<SealedCommit> {
  return sealedCommitOf(k, ev, await sealedBlobObject(k, ev, signature, envelope), parentOids);
}

/** The blob object alone (it does not depend on the parents: blobs are sealed in parallel, commits in order). */
export async function sealedBlobObject(
  k: ArchiveKey,
  ev: LedgerEvent,
  signature: Uint8Array,
  envelope: Uint8Array = envelopeBytes(ev)
): Promise<GitObject> {
  await initSha1();
  return gitObjectSync('blob', await sealBlob(k, ev.id, signature, envelope));
}

/** The tree and signed commit around a sealed blob. */
export async function sealedCommitOf(
  k: ArchiveKey,
  ev: LedgerEvent,
  blob: GitObject,
  parentOids: readonly string[]
): Promise<SealedCommit> {
  await initSha1();
  const { tree, unsigned } = sealedUnsigned(k, ev, blob.oid, parentOids);
  return { epoch: k.epoch, blob, tree, commit: sealedSigned(k, unsigned, await signSshsig(k.signer, unsigned)) };
}

/** The tree and the unsigned commit content (sync: initSha1() must have been awaited). */
export function sealedUnsigned(
  k: ArchiveKey,
  ev: LedgerEvent,
  blobOid: string,
  parentOids: readonly string[]
): { tree: GitObject; unsigned: Uint8Array } {
  const tree = gitObjectSync('tree', treeContent([{ mode: '100644', name: SEALED_FILE, oid: blobOid }]));
  const seconds = Math.floor(Date.parse(ev.event.time) / 1000);
  const who = `${SEALED_AUTHOR} <${sealedEmail(k)}> ${seconds} +0000`;
  const head = [`tree ${tree.oid}`, ...parentOids.map((p) => `parent ${p}`), `author ${who}`, `committer ${who}`];
  return { tree, unsigned: utf8(`${head.join('\n')}\n\n${sealedMessage(ev.id, k.epoch)}`) };
}

/** The signed commit object from the unsigned content and the archive key's 64-byte signature (not checked here). */
export const sealedSigned = (k: ArchiveKey, unsigned: Uint8Array, signature: Uint8Array): GitObject =>
  gitObjectSync('commit', insertSignature(unsigned, armorSshsig(sshsigBlob(k.signer.publicKey, signature))));

const isRemoval = (ev: LedgerEvent): boolean =>
  ev.event.type === 'member' && (ev.event.body as { action?: unknown } | undefined)?.action === 'remove';

const NONE: readonly string[] = Object.freeze([]);

/**
 * The epoch of each event. Fed events parents first (each after every parent it names that is known): the
 * removals in an event's history (the event included), shared between events when equal, decide it.
 */
export class SealedEpochs {
  readonly keys: readonly ArchiveKey[];
  #removals = new Map<string, readonly string[]>();
  #sets = new WeakMap<readonly string[], Set<string>>();

  constructor(keys: readonly ArchiveKey[]) {
    this.keys = [...keys].sort((a, b) => a.epoch - b.epoch);
  }

  has(id: string): boolean {
    return this.#removals.has(id);
  }

  add(ev: LedgerEvent): void {
    if (this.#removals.has(ev.id)) return;
    let mine = NONE;
    for (const p of ev.event.parents) {
      const r = this.#removals.get(p);
      if (!r || r === mine || r.length === 0) continue;
      if (mine.length === 0) mine = r;
      else {
        const have = this.#set(mine);
        const extra = r.filter((x) => !have.has(x));
        if (extra.length) mine = Object.freeze([...mine, ...extra]);
      }
    }
    if (isRemoval(ev)) mine = Object.freeze([...mine, ev.id]);
    this.#removals.set(ev.id, mine);
  }

  #set(list: readonly string[]): Set<string> {
    let s = this.#sets.get(list);
    if (!s) this.#sets.set(list, (s = new Set(list)));
    return s;
  }

  /** The archive key of an event's epoch, or why this device cannot seal or open it. */
  keyFor(id: string): { key: ArchiveKey } | { error: string } {
    const removals = this.#removals.get(id);
    if (!removals) return { error: `event ${id} is not known here` };
    const history = this.#set(removals);
    let best: ArchiveKey | undefined;
    for (const k of this.keys) if ([...k.covers].every((c) => history.has(c))) best = k;
    const held = this.keys.map((k) => k.epoch).join(', ') || 'none';
    if (!best)
      return {
        error: `event ${id} belongs to a team key epoch older than any this device holds (it holds epochs ${held})`
      };
    for (const r of removals) {
      if (best.covers.has(r)) continue;
      const later = this.keys.find((k) => k.covers.has(r));
      if (later)
        return {
          error: `event ${id} belongs to a team key epoch between ${best.epoch} and ${later.epoch}, whose key this device does not hold`
        };
      return {
        error: `event ${id} follows the removal ${r}, and the team key made after that removal has not reached this device (sync with an owner or admin first)`
      };
    }
    return { key: best };
  }
}

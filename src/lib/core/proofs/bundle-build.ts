/**
 * Building an evidence bundle from a ledger and its device log (ledger-schema/README.md section 16). Reveals the
 * asset's events and the member events in their causal past, nothing else: every other event appears only as
 * hashes inside the inclusion proofs.
 */
import { fromBase64, toBase64 } from '../bytes.ts';
import type { EventId, LedgerEvent } from '../event.ts';
import type { Ledger } from '../ledger.ts';
import type { Opening } from '../commitment.ts';
import { fileHashes } from '../query.ts';
import { canonicalJson } from '../canonical.ts';
import { ErrorCode, LedgerError } from '../errors.ts';
import { formatCheckpoint, openCheckpoint, type Checkpoint } from '../merkle/checkpoint.ts';
import { createCosignatureVerifier, cosignaturesOf } from '../merkle/cosignature.ts';
import { createEd25519Verifier } from '../merkle/note.ts';
import { BUNDLE_FORMAT, serializeBundle, type Bundle, type BundleSubject } from './bundle.ts';
import { verifyBundle } from './bundle-verify.ts';
import { proverReport } from './report.ts';
import { ProofCode, ProofError } from './errors.ts';
import type { DeviceLog } from './log.ts';
import { logVerifierKey, witnessVerifierKey } from './keys.ts';
import { publicKeyOf } from './witness.ts';
import { topoOrder } from '../roster.ts';
import { checkpointImprint } from '../timestamp/request.ts';
import { verifyTimestampToken } from '../timestamp/verify.ts';
import { MAX_TIMESTAMPS, type BundleTimestamp } from './bundle.ts';

/** Where the device keeps the time-stamp tokens of its checkpoints (TimestampStore). */
export interface TimestampSource {
  /** Checkpoint sizes that hold tokens, ascending. */
  sizes(): Promise<number[]>;
  /** The tokens (base64 DER) over the checkpoint of that size. */
  tokens(size: number): Promise<Array<{ token: string }>>;
}

export interface BuildOptions {
  ledger: Ledger;
  log: DeviceLog;
  /** The public key of the device whose log this is. */
  logPublicKey: string;
  subject: BundleSubject;
  /** Openings to reveal (the caller reads them from the vault); only those of included generations are kept. */
  openings?: readonly Opening[];
  /** Use the newest checkpoint even when no teammate has cosigned it (the report then says so). */
  allowUnwitnessed?: boolean;
  /** Time-stamp tokens of this log's checkpoints: each included event gets the earliest one that covers it. */
  timestamps?: TimestampSource;
}

/** The events about an asset: the chain of custody of a file, or an event and the chains of the files it names. */
export function assetEvents(ledger: Ledger, subject: BundleSubject): LedgerEvent[] {
  if ('sha256' in subject) {
    const found = ledger.trace(subject.sha256);
    if (found.length === 0)
      throw new LedgerError(ErrorCode.NOT_FOUND, `no event names a file with SHA-256 ${subject.sha256}`);
    return found;
  }
  const ev = ledger.get(subject.event);
  if (!ev) throw new LedgerError(ErrorCode.NOT_FOUND, `no event ${subject.event} in this ledger`);
  const all = new Map<string, LedgerEvent>([[ev.id, ev]]);
  for (const h of fileHashes(ev)) for (const e of ledger.trace(h)) all.set(e.id, e);
  return [...all.values()];
}

/** The member events in the causal past of the given events (the genesis included). */
export function memberPast(ledger: Ledger, events: readonly LedgerEvent[]): LedgerEvent[] {
  const seen = new Set<string>();
  const members = new Map<string, LedgerEvent>();
  const stack = events.flatMap((e) => e.event.parents as string[]);
  for (const e of events) if (e.event.type === 'member') members.set(e.id, e);
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const ev = ledger.get(id);
    if (!ev) continue;
    if (ev.event.type === 'member') members.set(ev.id, ev);
    stack.push(...(ev.event.parents as string[]));
  }
  const genesis = ledger.get(ledger.id);
  if (genesis) members.set(genesis.id, genesis);
  return [...members.values()];
}

/**
 * The newest stored checkpoint that covers every leaf below `minSize` and carries a valid cosignature by a
 * member's witness key; with allowUnwitnessed, the newest covering one otherwise.
 */
export async function chooseCheckpoint(
  ledger: Ledger,
  log: DeviceLog,
  logPublicKey: string,
  minSize: number,
  allowUnwitnessed = false
): Promise<{ note: string; checkpoint: Checkpoint; witnessKeys: string[] }> {
  const logVerifier = await createEd25519Verifier(await logVerifierKey(ledger.id, logPublicKey));
  const witnessKeys = new Map<string, string>();
  for (const m of ledger.roster()) {
    if (!m.active || m.key === logPublicKey) continue;
    witnessKeys.set(m.key, await witnessVerifierKey(ledger.id, m.key));
  }
  const verifiers = await Promise.all([...witnessKeys.values()].map(createCosignatureVerifier));
  let fallback: { note: string; checkpoint: Checkpoint; witnessKeys: string[] } | undefined;
  for (const size of (await log.checkpointSizes()).reverse()) {
    if (size < minSize) break;
    const note = (await log.checkpointNote(size))!;
    let opened;
    try {
      opened = await openCheckpoint(note, logVerifier, verifiers);
    } catch {
      continue; // a damaged or foreign note is never used; verifyStorage reports it
    }
    const cos = cosignaturesOf(opened.note, verifiers);
    const used = verifiers.filter((v) => cos.some((c) => c.name === v.name && c.keyId === v.keyId));
    const keys = [...witnessKeys.values()].filter((k) => used.some((v) => k.startsWith(`${v.name}+`)));
    if (cos.length) return { note, checkpoint: opened.checkpoint, witnessKeys: keys };
    fallback ??= { note, checkpoint: opened.checkpoint, witnessKeys: [] };
  }
  if (fallback && allowUnwitnessed) return fallback;
  throw new ProofError(
    ProofCode.NO_CHECKPOINT,
    fallback
      ? `no checkpoint covering these events is cosigned yet: ask a teammate to witness this log (provenance-ledger witness), or pass --unwitnessed`
      : `no signed checkpoint covers these events: make one (provenance-ledger checkpoint)`
  );
}

/** Builds the bundle; its report is the verifier's own reading of it. */
export async function buildBundle(opts: BuildOptions): Promise<{ bundle: Bundle; bytes: Uint8Array }> {
  const { ledger, log } = opts;
  const self = ledger.member(opts.logPublicKey);
  if (self && !self.active)
    throw new ProofError(
      ProofCode.CHECKPOINT_INVALID,
      `this device was removed from the ledger by event ${self.since}: its log proves nothing after that`
    );
  const asset = assetEvents(ledger, opts.subject);
  const included = new Map<string, LedgerEvent>();
  for (const e of [...asset, ...memberPast(ledger, asset)]) included.set(e.id, e);
  let maxLeaf = -1;
  for (const e of included.values()) {
    const i = log.indexOf(e.id);
    if (i === undefined) throw new ProofError(ProofCode.NOT_IN_LOG, `event ${e.id} is not in this device's log`);
    maxLeaf = Math.max(maxLeaf, i);
  }
  const chosen = await chooseCheckpoint(ledger, log, opts.logPublicKey, maxLeaf + 1, opts.allowUnwitnessed);
  const size = chosen.checkpoint.size;
  // A witness need not be a member in the causal past of these events (a teammate invited after the asset was
  // recorded): the member events that make it one come along, when the checkpoint covers them.
  const witnessKeys: string[] = [];
  for (const vkey of chosen.witnessKeys) {
    const entry = ledger.member(publicKeyOf(vkey));
    const since = entry && ledger.get(entry.since);
    const extra = since ? memberPast(ledger, [since]).filter((e) => !included.has(e.id)) : [];
    if (!since || extra.some((e) => (log.indexOf(e.id) ?? size) >= size)) continue;
    for (const e of extra) included.set(e.id, e);
    witnessKeys.push(vkey);
  }
  if (chosen.witnessKeys.length > 0 && witnessKeys.length === 0 && !opts.allowUnwitnessed) {
    throw new ProofError(
      ProofCode.NO_CHECKPOINT,
      "the newest cosigned checkpoint predates its witnesses' membership in this log: sync again, or pass --unwitnessed"
    );
  }
  const order = topoOrder(new Map([...included.values()].map((e) => [e.id as EventId, e])));
  const events = order.map((id) => included.get(id)!);
  const timestamps = opts.timestamps
    ? await chooseTimestamps(
        opts.timestamps,
        log,
        chosen.checkpoint,
        events.map((e) => log.indexOf(e.id)!)
      )
    : [];
  const commitments = new Set<string>();
  for (const e of events) {
    const b = e.event.body as { prompt?: { commitment: string }; negativePrompt?: { commitment: string } };
    if (e.event.type === 'generation')
      for (const c of [b.prompt, b.negativePrompt]) if (c) commitments.add(c.commitment);
  }
  const bundle: Bundle = {
    format: BUNDLE_FORMAT,
    ledger: ledger.id,
    subject: opts.subject,
    events: events.map((e) => {
      const leaf = log.indexOf(e.id as EventId)!;
      return {
        envelope: canonicalJson({ event: e.event, sig: e.sig }),
        leaf,
        proof: log.inclusionProof(leaf, size).map((h) => toBase64(h))
      };
    }),
    checkpoint: chosen.note,
    logKey: await logVerifierKey(ledger.id, opts.logPublicKey),
    witnessKeys,
    timestamps,
    openings: (opts.openings ?? [])
      .filter((o) => commitments.has(o.commitment))
      .map((o) => ({ alg: o.alg, commitment: o.commitment, salt: o.salt, prompt: o.prompt })),
    report: ''
  };
  const check = await verifyBundle(serializeBundle(bundle));
  if (!check.facts || !check.bundleOk) {
    throw new ProofError(
      ProofCode.BUNDLE_INVALID,
      `the bundle would not verify: ${check.failures.map((f) => `${f.code} ${f.location}: ${f.message}`).join('; ')}`
    );
  }
  bundle.report = proverReport(check.facts);
  return { bundle, bytes: serializeBundle(bundle) };
}

/**
 * The tokens to include: for each included leaf, those at the smallest time-stamped size that covers it (the
 * earliest bound), with the consistency proof from that size to the bundle's checkpoint. Tokens that do not
 * match their checkpoint are left out (the stored file is damaged; verify reports it).
 */
async function chooseTimestamps(
  source: TimestampSource,
  log: DeviceLog,
  checkpoint: Checkpoint,
  leaves: number[]
): Promise<BundleTimestamp[]> {
  const sizes = (await source.sizes()).filter((n) => n >= 1 && n <= checkpoint.size);
  const chosen = new Set<number>();
  for (const leaf of leaves) {
    const n = sizes.find((x) => x > leaf);
    if (n !== undefined) chosen.add(n);
  }
  const out: BundleTimestamp[] = [];
  for (const size of [...chosen].sort((a, b) => a - b)) {
    const root = log.rootAt(size);
    const imprint = await checkpointImprint(
      formatCheckpoint({ origin: checkpoint.origin, size, rootHash: root, extensions: [] })
    );
    const consistency =
      size === checkpoint.size ? [] : log.consistencyProof(size, checkpoint.size).map((h) => toBase64(h));
    for (const t of await source.tokens(size)) {
      if (out.length >= MAX_TIMESTAMPS) return out;
      const verdict = await verifyTimestampToken(fromBase64(t.token), imprint, []);
      if (verdict.status === 'invalid') continue;
      out.push({ size, root: toBase64(root), consistency, token: t.token });
    }
  }
  return out;
}

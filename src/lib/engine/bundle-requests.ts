/**
 * Evidence bundles in the worker (ledger-schema/README.md 16-17), with the same core code as the CLI's
 * `provenance-ledger prove` (src/cli/commands/proofs.ts). Checking a bundle needs no ledger: the Verify page and
 * the offline verifier do it with src/verifier/check.ts.
 *
 * - `export-bundle`: the device's Merkle log (core DeviceLog) is attached to the worker's ledger over the same
 *   storage (as src/cli/context.ts does), a checkpoint is signed, and core buildBundle writes the bundle. With no
 *   teammate's cosignature, it is built as `prove --unwitnessed` does and the answer says so.
 */
import { fromUtf8 } from '../core/bytes.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import type { Ledger } from '../core/ledger.ts';
import { verifyOpening, type Opening } from '../core/commitment.ts';
import { PromptVault } from '../core/vault.ts';
import { DeviceLog } from '../core/proofs/log.ts';
import { buildBundle } from '../core/proofs/bundle-build.ts';
import type { BundleSubject } from '../core/proofs/bundle.ts';
import { ProofCode, isProofError } from '../core/proofs/errors.ts';
import { TimestampStore } from '../core/timestamp/store.ts';
import type { LedgerHost } from './host.ts';
import { VAULT_LOCKED } from './vault-lock.ts';

export type BundleRequest = ExportBundleRequest | RevealPromptRequest;

/**
 * `reveal-prompt`: the prompt of one of the ledger's generations, from this device's vault, checked against the
 * commitment the event holds (the vault checks each opening on the way out, and it is checked here against the
 * event's own commitment). Asked only when the user confirmed on the generation's page; nothing is kept.
 */
export interface RevealPromptRequest {
  type: 'reveal-prompt';
  /** The generation's event id. */
  event: string;
}

export type RevealPromptResult =
  | { status: 'revealed'; prompt: string; commitment: string }
  | { status: 'no-prompt' | 'not-in-vault' | 'locked'; message: string };

export interface ExportBundleRequest {
  type: 'export-bundle';
  /** An event id (the bundle proves that event and the chains of its files) or a file's SHA-256 (its chain). */
  subject: string;
  /** The file's name, for a SHA-256 subject (the report names the file by it). */
  name?: string;
  revealPrompt?: boolean;
}

export interface BundleExportResult {
  /** The bundle's JSON text (its exact bytes as UTF-8). */
  text: string;
  filename: string;
  events: number;
  openings: number;
  witnesses: number;
  /** No teammate has cosigned a checkpoint covering these events: built as `prove --unwitnessed`. */
  unwitnessed: boolean;
  /** Why a requested prompt was not revealed (vault locked, or no opening on this device). */
  promptNote?: string;
  report: string;
}

export interface BundleResults {
  'export-bundle': BundleExportResult;
  'reveal-prompt': RevealPromptResult;
}

export const BUNDLE_REQUESTS: ReadonlySet<string> = new Set(['export-bundle', 'reveal-prompt']);
export const isBundleRequest = (r: { type: string }): r is BundleRequest => BUNDLE_REQUESTS.has(r.type);

const HEX64 = /^[0-9a-f]{64}$/;

/** One attached log per opened ledger, kept in step with it (and signing a checkpoint after each batch). */
const logs = new WeakMap<Ledger, Promise<DeviceLog>>();

/**
 * The device's log attached to this ledger: the one instance bundles and team sync (witnessing at each sync,
 * team.ts) share, since two logs over one storage would write the same keys.
 */
export function attachedDeviceLog(host: LedgerHost, ledger: Ledger): Promise<DeviceLog> {
  let p = logs.get(ledger);
  if (!p) {
    const signer = host.deviceIdentity()!.signer;
    p = host.storage().then((storage) => DeviceLog.attach(ledger, storage, { signer }));
    logs.set(ledger, p);
    p.catch(() => logs.delete(ledger));
  }
  return p;
}

async function deviceLog(host: LedgerHost, ledger: Ledger): Promise<DeviceLog> {
  const signer = host.deviceIdentity()!.signer;
  const log = await attachedDeviceLog(host, ledger);
  await log.settled();
  await log.reconcile(ledger);
  await log.checkpoint(ledger.id, signer);
  return log;
}

export async function exportBundle(
  host: LedgerHost,
  subjectRef: unknown,
  revealPrompt: unknown,
  name?: unknown
): Promise<BundleExportResult> {
  const ledger = host.writableLedger();
  const identity = host.deviceIdentity()!;
  const ref = typeof subjectRef === 'string' ? subjectRef.trim().toLowerCase() : '';
  if (!HEX64.test(ref)) throw new LedgerError(ErrorCode.BAD_INPUT, 'export-bundle needs an event id or a file SHA-256');
  const label = typeof name === 'string' ? name.trim().slice(0, 256) : '';
  const subject: BundleSubject = ledger.get(ref) ? { event: ref } : { sha256: ref, ...(label ? { name: label } : {}) };
  const log = await deviceLog(host, ledger);

  let openings: Opening[] = [];
  let promptNote: string | undefined;
  if (revealPrompt === true) {
    const vault = new PromptVault(await host.storage());
    try {
      for (const ev of ledger.events()) {
        if (ev.event.type !== 'generation') continue;
        const b = ev.event.body as { prompt?: { commitment: string }; negativePrompt?: { commitment: string } };
        for (const c of [b.prompt, b.negativePrompt]) {
          const o = c && (await vault.get(c.commitment));
          if (o) openings.push(o);
        }
      }
    } catch (e) {
      promptNote = `The prompt was not revealed: ${(e as Error).message}`;
      openings = [];
    }
  }

  const timestamps = new TimestampStore(await host.storage());
  const build = (allowUnwitnessed: boolean) =>
    buildBundle({ ledger, log, logPublicKey: identity.publicKey, subject, openings, allowUnwitnessed, timestamps });
  let built;
  let unwitnessed = false;
  try {
    built = await build(false);
  } catch (e) {
    if (!isProofError(e, ProofCode.NO_CHECKPOINT)) throw e;
    built = await build(true);
    unwitnessed = true;
  }
  openings = [];
  const { bundle, bytes } = built;
  if (revealPrompt === true && !promptNote && bundle.openings.length === 0) {
    promptNote = "No prompt of these generations is in this device's vault: none revealed.";
  }
  const first = 'sha256' in subject ? subject.sha256 : subject.event;
  return {
    text: fromUtf8(bytes),
    filename: `evidence-${first.slice(0, 12)}.bundle.json`,
    events: bundle.events.length,
    openings: bundle.openings.length,
    witnesses: bundle.witnessKeys.length,
    unwitnessed,
    ...(promptNote ? { promptNote } : {}),
    report: bundle.report
  };
}

export async function revealPrompt(host: LedgerHost, eventId: unknown): Promise<RevealPromptResult> {
  const ledger = host.writableLedger();
  const id = typeof eventId === 'string' ? eventId.trim().toLowerCase() : '';
  const ev = HEX64.test(id) ? ledger.get(id) : undefined;
  if (!ev || ev.event.type !== 'generation')
    throw new LedgerError(ErrorCode.BAD_INPUT, 'reveal-prompt needs the id of a generation in this ledger');
  const commitment = (ev.event.body as { prompt?: { commitment?: unknown } }).prompt?.commitment;
  if (typeof commitment !== 'string')
    return { status: 'no-prompt', message: 'This generation was recorded without a prompt: there is nothing to show.' };
  let opening: Opening | undefined;
  try {
    opening = await new PromptVault(await host.storage()).get(commitment);
  } catch (e) {
    if ((e as { code?: unknown }).code !== VAULT_LOCKED) throw e;
    return { status: 'locked', message: (e as Error).message };
  }
  if (!opening)
    return {
      status: 'not-in-vault',
      message:
        "This device's prompt vault does not hold this prompt (it was recorded on another device, or the vault was not restored)."
    };
  await verifyOpening(opening, commitment);
  return { status: 'revealed', prompt: opening.prompt, commitment };
}

export async function handleBundle(host: LedgerHost, request: BundleRequest): Promise<unknown> {
  if (request.type === 'reveal-prompt') return revealPrompt(host, request.event);
  return exportBundle(host, request.subject, request.revealPrompt, request.name);
}

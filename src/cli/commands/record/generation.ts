/** record generation: one run of a cloud generator, with its prompt as a commitment and every file hashed. */
import { commitPrompt } from '../../../lib/core/commitment.ts';
import { PromptVault } from '../../../lib/core/vault.ts';
import { ErrorCode, LedgerError } from '../../../lib/core/errors.ts';
import type { ChecklistBody, GenerationBody } from '../../../lib/core/types.ts';
import { readStdinText, readTextFile } from '../../../lib/adapters/node/files.ts';
import { openSession, resolveEvent, type GlobalOptions } from '../../context.ts';
import type { Output } from '../../output.ts';
import { appendWithSideData, compact, hashFiles, policySnapshots, printRecorded } from './common.ts';

export interface GenerationOptions extends GlobalOptions {
  platform: string;
  modelVersion?: string;
  mode?: string;
  prompt?: string;
  promptFile?: string;
  input?: string[];
  output: string[];
  project?: string;
  classification?: string;
  client?: string;
  trainingOptOut?: boolean;
  privacyMode?: boolean;
  seed?: string;
  jobId?: string;
  checklist?: string;
  policy?: string[];
  notes?: string;
}

export async function recordGeneration(opts: GenerationOptions, out: Output): Promise<void> {
  if (opts.prompt !== undefined && opts.promptFile !== undefined) {
    throw new LedgerError(ErrorCode.BAD_INPUT, 'give the prompt either with --prompt or with --prompt-file, not both');
  }
  const inputsGiven = (opts.input?.length ?? 0) > 0;
  if (opts.prompt === undefined && opts.promptFile === undefined && !inputsGiven) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      'a generation needs a prompt (--prompt or --prompt-file) or reference inputs (--input)'
    );
  }
  const s = await openSession(opts, { write: true });
  const { ledger } = s;

  // Everything that can fail on bad input happens before anything is written.
  const promptText =
    opts.promptFile === '-'
      ? await readStdinText()
      : opts.promptFile !== undefined
        ? await readTextFile(opts.promptFile, 'prompt file')
        : opts.prompt;
  const inputs = await hashFiles(opts.input ?? [], out, 'reference');
  const outputs = await hashFiles(opts.output, out);
  const checklist = opts.checklist ? resolveEvent(ledger, opts.checklist, 'checklist') : undefined;
  const cl = checklist?.event.body as ChecklistBody | undefined;
  const project = opts.project ?? cl?.project;
  const classification = opts.classification ?? cl?.classification;
  if (!project)
    throw new LedgerError(ErrorCode.BAD_INPUT, 'missing --project (or --checklist, whose project is then used)');
  if (!classification)
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      'missing --classification (or --checklist, whose classification is then used)'
    );
  if (cl && (!opts.project || !opts.classification)) {
    out.note(
      `project and classification taken from checklist ${checklist!.id.slice(0, 12)}: ${project} (${classification})`
    );
  }
  const mode = opts.mode ?? (inputsGiven ? 'image-to-3d' : 'text-to-3d');
  if (!opts.mode) out.note(`no --mode given: recorded as ${mode}`);
  const committed = promptText === undefined ? undefined : await commitPrompt(promptText);

  const body = compact({
    platform: compact({ name: opts.platform, modelVersion: opts.modelVersion }),
    mode,
    prompt: committed?.commitment,
    inputs,
    outputs,
    settings: compact({ trainingOptOut: opts.trainingOptOut, privacyMode: opts.privacyMode, seed: opts.seed }),
    project,
    classification,
    client: opts.client ?? cl?.client,
    checklist: checklist?.id,
    policySnapshots: policySnapshots(ledger, opts.policy, opts.platform, out),
    platformJobId: opts.jobId,
    notes: opts.notes
  }) as unknown as GenerationBody;

  const vault = new PromptVault(s.storage);
  const side = committed
    ? [{ key: ['vault', committed.opening.commitment], write: () => vault.put(committed.opening) }]
    : [];
  const ev = await appendWithSideData(s, 'generation', body, side);
  if (committed)
    out.note(
      `the prompt is kept in this device's vault only; show it with: provenance-ledger reveal ${ev.id.slice(0, 12)}`
    );
  printRecorded(ev, ledger, out);
}

/** record checklist: the pre-generation checklist of a project. */
import type { ChecklistBody } from '../../../lib/core/types.ts';
import { openSession, type GlobalOptions } from '../../context.ts';
import type { Output } from '../../output.ts';
import { appendWithSideData, compact, policySnapshots, printRecorded } from './common.ts';

export interface ChecklistOptions extends GlobalOptions {
  project: string;
  classification: string;
  client?: string;
  platform?: string;
  policy?: string[];
  classified?: boolean;
  policiesReviewed?: boolean;
  privacySettings?: boolean;
  inputsSanitized?: boolean;
  ndaChecked?: boolean;
  setting?: string[];
  notes?: string;
}

export async function recordChecklist(opts: ChecklistOptions, out: Output): Promise<void> {
  const s = await openSession(opts, { write: true });
  const body = compact({
    project: opts.project,
    classification: opts.classification,
    client: opts.client,
    platform: opts.platform ? { name: opts.platform } : undefined,
    policySnapshots: policySnapshots(s.ledger, opts.policy, opts.platform, out),
    items: compact({
      classified: !!opts.classified,
      policiesReviewed: !!opts.policiesReviewed,
      privacySettingsEnabled: !!opts.privacySettings,
      inputsSanitized: !!opts.inputsSanitized,
      ndaChecked: opts.ndaChecked ? true : undefined
    }),
    settingsEnabled: opts.setting?.length ? [...new Set(opts.setting)] : undefined,
    notes: opts.notes
  }) as unknown as ChecklistBody;
  const unchecked = Object.entries(body.items)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (unchecked.length) out.note(`not checked: ${unchecked.join(', ')}`);
  printRecorded(await appendWithSideData(s, 'checklist', body), s.ledger, out);
}

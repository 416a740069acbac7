/** record deletion: a cloud copy's deletion requested, confirmed or failed, with the evidence's hash. */
import path from 'node:path';
import { ErrorCode, LedgerError } from '../../../lib/core/errors.ts';
import { formatTime } from '../../../lib/core/event.ts';
import type { DeletionBody, GenerationBody } from '../../../lib/core/types.ts';
import { hashFile, mediaTypeOf } from '../../../lib/adapters/node/files.ts';
import { openSession, resolveEvent, type GlobalOptions } from '../../context.ts';
import type { Output } from '../../output.ts';
import { appendWithSideData, compact, printRecorded } from './common.ts';

export interface DeletionOptions extends GlobalOptions {
  platform: string;
  generation?: string;
  jobId?: string;
  status: string;
  evidence?: string;
  evidenceKind?: string;
  notes?: string;
}

const KIND_BY_EXT: Record<string, string> = {
  '.eml': 'email',
  '.msg': 'email',
  '.png': 'screenshot',
  '.jpg': 'screenshot',
  '.jpeg': 'screenshot',
  '.webp': 'screenshot',
  '.json': 'api-response'
};

export async function recordDeletion(opts: DeletionOptions, out: Output): Promise<void> {
  if (!opts.generation && !opts.jobId) {
    throw new LedgerError(ErrorCode.BAD_INPUT, 'say what was deleted: --generation ID and/or --job-id ID');
  }
  const s = await openSession(opts, { write: true });
  const gen = opts.generation ? resolveEvent(s.ledger, opts.generation, 'generation') : undefined;
  if (gen && (gen.event.body as GenerationBody).platform.name !== opts.platform) {
    out.warn(
      `generation ${gen.id.slice(0, 12)} was made on ${(gen.event.body as GenerationBody).platform.name}, not ${opts.platform}`
    );
  }
  let evidence: DeletionBody['evidence'];
  if (opts.evidence) {
    const { sha256, size } = await hashFile(opts.evidence, out.progress);
    const kind = opts.evidenceKind ?? KIND_BY_EXT[path.extname(opts.evidence).toLowerCase()] ?? 'other';
    evidence = compact({ sha256, kind, size, mediaType: mediaTypeOf(opts.evidence) }) as DeletionBody['evidence'];
  }
  const now = formatTime(new Date());
  const body = compact({
    platform: { name: opts.platform },
    target: compact({ generation: gen?.id, platformJobId: opts.jobId }),
    status: opts.status,
    evidence,
    requestedAt: opts.status === 'requested' ? now : undefined,
    confirmedAt: opts.status === 'confirmed' ? now : undefined,
    notes: opts.notes
  }) as unknown as DeletionBody;
  printRecorded(await appendWithSideData(s, 'deletion', body), s.ledger, out);
}

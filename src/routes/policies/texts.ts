/** Policy snapshot texts as the page reads them: fetched from the worker by hash, HTML turned into text. */
import type { LedgerEvent } from '#lib/core/event.ts';
import type { LedgerSession } from '#lib/engine/session.svelte.ts';
import { bodyOf } from '#lib/core/insights.ts';
import { htmlToText } from '#lib/ui/policy.ts';

export interface SnapshotText {
  sha256: string;
  mediaType: string;
  /** The readable text (HTML converted), or null when this device does not hold the text. */
  text: string | null;
}

export async function readableText(session: LedgerSession, snapshot: LedgerEvent): Promise<SnapshotText> {
  const t = bodyOf(snapshot).text as { sha256?: unknown; mediaType?: unknown } | undefined;
  const sha256 = typeof t?.sha256 === 'string' ? t.sha256 : '';
  const mediaType = typeof t?.mediaType === 'string' ? t.mediaType : 'text/plain';
  if (!/^[0-9a-f]{64}$/.test(sha256)) return { sha256, mediaType, text: null };
  const raw = await session.policyText(sha256);
  if (raw === null || raw === undefined) return { sha256, mediaType, text: null };
  return { sha256, mediaType, text: mediaType === 'text/html' ? htmlToText(raw) : raw };
}

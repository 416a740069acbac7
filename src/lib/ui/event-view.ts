/**
 * What the event list shows of one event. Bodies come from the ledger (and later from peers): every field is
 * read defensively, and everything returned is plain text for Svelte to escape.
 */
import type { LedgerEvent } from '#lib/core/event.ts';
import { shortId } from './format.ts';

export interface EventView {
  id: string;
  shortId: string;
  type: string;
  time: string;
  platform?: string;
  modelVersion?: string;
  project?: string;
  classification?: string;
  outputs: { name: string; sha256: string }[];
  /** A one-line description for events that are not generations. */
  summary?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

export function eventView(e: LedgerEvent): EventView {
  const ev = obj(e.event);
  const body = obj(ev.body);
  const type = str(ev.type) ?? 'unknown';
  const view: EventView = { id: e.id, shortId: shortId(e.id), type, time: str(ev.time) ?? '', outputs: [] };
  if (type === 'generation') {
    const platform = obj(body.platform);
    view.platform = str(platform.name);
    view.modelVersion = str(platform.modelVersion);
    view.project = str(body.project);
    view.classification = str(body.classification);
    view.outputs = Array.isArray(body.outputs)
      ? body.outputs.map((f) => ({ name: str(obj(f).name) ?? '(unnamed)', sha256: str(obj(f).sha256) ?? '' }))
      : [];
  } else if (type === 'member') {
    const member = obj(body.member);
    const name = str(member.name) ?? 'someone';
    const role = str(member.role);
    const action = str(body.action);
    view.summary =
      action === 'create'
        ? `Ledger “${str(body.ledgerName) ?? ''}” created by ${name}${role ? ` (${role})` : ''}`
        : `${action ?? 'change'}: ${name}${role ? ` (${role})` : ''}`;
  }
  return view;
}

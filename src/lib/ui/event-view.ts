/**
 * What the event list shows of one event. Bodies come from the ledger (and later from peers): every field is
 * read defensively, and everything returned is plain text for Svelte to escape.
 */
import type { LedgerEvent } from '#lib/core/event.ts';
import { shortId } from './format.ts';
import { deletionStatusWord, operationWord, policyKindWord, roleWord } from './words.ts';

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
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};

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
        ? `Ledger “${str(body.ledgerName) ?? ''}” created by ${name}${role ? ` (${roleWord(role).toLowerCase()})` : ''}`
        : `${action ?? 'change'}: ${name}${role ? ` (${roleWord(role).toLowerCase()})` : ''}`;
  } else {
    view.platform = str(obj(body.platform).name);
    view.project = str(body.project);
    view.classification = str(body.classification);
    view.summary = summaryOf(type, body);
  }
  return view;
}

const KINDS: Record<string, string> = {
  'privacy-policy': 'privacy policy',
  'terms-of-service': 'terms of service',
  dpa: 'data processing agreement',
  'model-license': 'model licence',
  other: 'policy document'
};

const fileNames = (v: unknown): string => {
  const names = Array.isArray(v) ? v.map((f) => str(obj(f).name)).filter(Boolean) : [];
  return names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
};

/** One line for the events other than generations and members. */
function summaryOf(type: string, body: Record<string, unknown>): string | undefined {
  const platform = str(obj(body.platform).name);
  switch (type) {
    case 'policy-snapshot':
      return `${platform ?? 'A platform'}: ${KINDS[str(body.kind) ?? 'other'] ?? policyKindWord(body.kind).toLowerCase()}${str(body.version) ? ` (${str(body.version)})` : ''}`;
    case 'checklist': {
      const items = obj(body.items);
      const done = ['classified', 'policiesReviewed', 'privacySettingsEnabled', 'inputsSanitized'].filter(
        (k) => items[k] === true
      ).length;
      return `Checklist for ${str(body.project) ?? 'a project'}${platform ? ` on ${platform}` : ''}: ${done} of 4 done`;
    }
    case 'export':
      return `Exported ${fileNames(body.files)} to ${str(obj(body.destination).label) ?? 'a destination'}`;
    case 'derivation':
      return `${str(body.operation) ? operationWord(body.operation) : 'Edit'} in ${str(obj(body.tool).name) ?? 'a tool'}: ${fileNames(body.outputs)}`;
    case 'handoff':
      return `Handed ${fileNames(body.files)} to ${str(obj(body.recipient).name) ?? 'a recipient'}`;
    case 'deletion':
      return `Deletion ${str(body.status) ? deletionStatusWord(body.status).toLowerCase() : ''} on ${platform ?? 'a platform'}`;
    default:
      return undefined;
  }
}

/**
 * What the asset page shows of a chain of custody: one timeline step per event and every file named along
 * the way. Bodies are read defensively (they come from the ledger, later from peers) and everything returned
 * is plain text for Svelte to escape.
 */
import type { LedgerEvent } from '#lib/core/event.ts';
import {
  classificationWord,
  deletionStatusWord,
  destinationKindWord,
  evidenceKindWord,
  modeWord,
  operationWord,
  policyKindWord
} from '#lib/ui/words.ts';

export interface FileRow {
  name: string;
  format: string;
  size: number;
  sha256: string;
  role?: string;
  set?: string;
  /** What the file is in this chain: output, input, derived, delivered, exported. */
  origin: string;
  /** The event that first named it. */
  eventId: string;
}

export interface Step {
  id: string;
  type: string;
  time: string;
  author: string;
  title: string;
  details: { label: string; value: string }[];
  files: { name: string; sha256: string; what: string }[];
  tone?: 'ok' | 'warn' | 'danger';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const refs = (v: unknown) =>
  arr(v)
    .map(obj)
    .filter((f) => typeof f.sha256 === 'string')
    .map((f) => ({
      name: str(f.name) ?? '(unnamed)',
      format: str(f.format) ?? '',
      size: typeof f.size === 'number' ? f.size : 0,
      sha256: f.sha256 as string,
      role: str(f.role),
      set: str(f.set)
    }));

const yes = (b: unknown) => (b === true ? 'on' : b === false ? 'off' : 'not recorded');

export function stepOf(e: LedgerEvent, names: (key: string) => string): Step {
  const ev = obj(e.event);
  const b = obj(ev.body);
  const type = str(ev.type) ?? 'unknown';
  const step: Step = {
    id: e.id,
    type,
    time: str(ev.time) ?? '',
    author: names(str(ev.author) ?? ''),
    title: type,
    details: [],
    files: []
  };
  const d = (label: string, value: string | undefined) => value && step.details.push({ label, value });
  switch (type) {
    case 'generation': {
      const p = obj(b.platform);
      step.title = `Generated on ${str(p.name) ?? 'a platform'}`;
      d('Model', str(p.modelVersion));
      d('Mode', str(b.mode) && modeWord(b.mode));
      d('Project', str(b.project));
      d('Classification', str(b.classification) && classificationWord(b.classification));
      const s = obj(b.settings);
      d('Training opt-out', yes(s.trainingOptOut));
      d('Privacy mode', yes(s.privacyMode));
      d('Prompt', b.prompt ? 'committed (text kept in the local vault)' : undefined);
      step.files = [
        ...refs(b.inputs).map((f) => ({ name: f.name, sha256: f.sha256, what: 'input' })),
        ...refs(b.outputs).map((f) => ({ name: f.name, sha256: f.sha256, what: 'output' }))
      ];
      break;
    }
    case 'export': {
      const dest = obj(b.destination);
      step.title = `Exported to ${str(dest.label) ?? 'a destination'}`;
      d('Kind', str(dest.kind) && destinationKindWord(dest.kind));
      d('Encrypted', dest.encrypted === true ? 'yes' : 'no');
      step.tone = dest.encrypted === true ? 'ok' : 'warn';
      step.files = refs(b.files).map((f) => ({ name: f.name, sha256: f.sha256, what: 'exported' }));
      break;
    }
    case 'derivation': {
      const tool = obj(b.tool);
      step.title = `${str(b.operation) ? operationWord(b.operation) : 'Edited'} in ${str(tool.name) ?? 'a tool'}${str(tool.version) ? ` ${tool.version}` : ''}`;
      step.files = [
        ...refs(b.parents).map((f) => ({ name: f.name, sha256: f.sha256, what: 'from' })),
        ...refs(b.outputs).map((f) => ({ name: f.name, sha256: f.sha256, what: 'result' }))
      ];
      break;
    }
    case 'handoff': {
      const r = obj(b.recipient);
      step.title = `Delivered to ${str(r.name) ?? 'a recipient'}`;
      d('Organization', str(r.organization));
      d('Channel', str(b.channel));
      d('Terms', str(b.terms));
      step.files = refs(b.files).map((f) => ({ name: f.name, sha256: f.sha256, what: 'delivered' }));
      break;
    }
    case 'deletion': {
      const status = str(b.status) ?? 'requested';
      step.title = `Cloud copy deletion ${deletionStatusWord(status).toLowerCase()} on ${str(obj(b.platform).name) ?? 'the platform'}`;
      step.tone = status === 'confirmed' ? 'ok' : status === 'failed' ? 'danger' : 'warn';
      const ev2 = obj(b.evidence);
      d(
        'Evidence',
        str(ev2.sha256) ? `${str(ev2.kind) ? evidenceKindWord(ev2.kind) : 'File'}, SHA-256 ${ev2.sha256}` : undefined
      );
      d('Job', str(obj(b.target).platformJobId));
      break;
    }
    case 'checklist':
      step.title = `Checklist for ${str(b.project) ?? 'the project'}`;
      break;
    case 'policy-snapshot':
      step.title =
        `Policy snapshot: ${str(obj(b.platform).name) ?? ''} ${str(b.kind) ? policyKindWord(b.kind).toLowerCase() : ''}`.trim();
      break;
    default:
      step.title = type;
  }
  d('Notes', str(b.notes));
  return step;
}

/** Every file named in the chain, once, in the order first named. */
export function filesOf(events: LedgerEvent[]): FileRow[] {
  const rows = new Map<string, FileRow>();
  const add = (list: ReturnType<typeof refs>, origin: string, eventId: string) => {
    for (const f of list) if (!rows.has(f.sha256)) rows.set(f.sha256, { ...f, origin, eventId });
  };
  for (const e of events) {
    const b = obj(obj(e.event).body);
    switch (e.event.type) {
      case 'generation':
        add(refs(b.outputs), 'output', e.id);
        add(refs(b.inputs), 'reference input', e.id);
        break;
      case 'export':
        add(refs(b.files), 'exported', e.id);
        break;
      case 'derivation':
        add(refs(b.parents), 'source', e.id);
        add(refs(b.outputs), 'derived', e.id);
        break;
      case 'handoff':
        add(refs(b.files), 'delivered', e.id);
        break;
    }
  }
  return [...rows.values()];
}

/** On the platform's servers until a deletion is confirmed. */
export function cloudStatus(events: LedgerEvent[]): { label: string; tone: 'ok' | 'warn' | 'danger' } {
  const dels = events.filter((e) => e.event.type === 'deletion').map((e) => str(obj(e.event.body).status));
  if (dels.includes('confirmed')) return { label: 'Cloud copy deleted (confirmed)', tone: 'ok' };
  if (dels.includes('requested')) return { label: 'Deletion requested, not yet confirmed', tone: 'warn' };
  if (dels.includes('failed')) return { label: 'Deletion failed: still on the platform', tone: 'danger' };
  return { label: 'Still on the platform’s servers', tone: 'warn' };
}

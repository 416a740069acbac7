/**
 * The commit message of an event: one summary line that reads well in `git log --oneline` (type, platform,
 * file names), a blank line, and the trailers `Event-Id:`, `Event-Type:`, `Ledger:`. A pure function of the
 * event, so every device writes the same message.
 */
import type { LedgerEvent } from '../event.ts';

const MAX_SUMMARY = 120;

/** One line, printable: control characters become spaces, runs of spaces collapse. */
export function oneLine(s: unknown): string {
  const text = String(s ?? '');
  // Most names are one line already: nothing to replace, nothing for trim() to remove.
  if (!/[\u0000-\u001f\u007f\u2028\u2029]| {2}|^\s|\s$/.test(text)) return text;
  return text
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
}

interface FileLike {
  name?: string;
}

function files(list: unknown, max = 3): string {
  if (!Array.isArray(list) || list.length === 0) return '';
  const names = (list as FileLike[]).slice(0, max).map((f) => oneLine(f?.name));
  const more = list.length > max ? ` (+${list.length - max} more)` : '';
  return names.join(', ') + more;
}

/** A name-bearing part of a body (platform, tool, destination, recipient, member); any field may be missing. */
interface Part {
  name?: unknown;
  modelVersion?: unknown;
  label?: unknown;
  role?: unknown;
}

/**
 * What a summary reads of a body. Every field may be missing or of another type: the message is a pure function
 * of whatever the event holds, written alike on every device.
 */
interface Body {
  platform?: Part;
  mode?: unknown;
  outputs?: unknown;
  kind?: unknown;
  retrievedAt?: unknown;
  project?: unknown;
  classification?: unknown;
  files?: unknown;
  destination?: Part;
  tool?: Part;
  operation?: unknown;
  parents?: unknown;
  recipient?: Part;
  status?: unknown;
  target?: { files?: { length?: unknown } };
  member?: Part;
  action?: unknown;
  ledgerName?: unknown;
}

function summary(type: string, b: Body): string {
  switch (type) {
    case 'generation': {
      const p: Part = b.platform ?? {};
      return `${p.name ?? '?'}${p.modelVersion ? ` ${p.modelVersion}` : ''} ${b.mode ?? ''} -> ${files(b.outputs)}`;
    }
    case 'policy-snapshot':
      return `${b.platform?.name ?? '?'} ${b.kind ?? ''} retrieved ${String(b.retrievedAt ?? '').slice(0, 10)}`;
    case 'checklist':
      return `${b.project ?? '?'} (${b.classification ?? '?'})${b.platform?.name ? ` for ${b.platform.name}` : ''}`;
    case 'export':
      return `${files(b.files)} -> ${b.destination?.label ?? '?'}`;
    case 'derivation':
      return `${b.tool?.name ?? '?'} ${b.operation ?? ''}: ${files(b.parents)} -> ${files(b.outputs)}`;
    case 'handoff':
      return `${files(b.files)} -> ${b.recipient?.name ?? '?'}`;
    case 'deletion':
      return `${b.platform?.name ?? '?'} ${b.status ?? ''}${b.target?.files ? ` (${b.target.files.length} files)` : ''}`;
    case 'member': {
      const m: Part = b.member ?? {};
      if (b.action === 'create') return `create ledger "${b.ledgerName ?? ''}", owner ${m.name ?? '?'}`;
      return `${b.action ?? '?'} ${m.name ?? '?'}${b.action === 'remove' ? '' : ` (${m.role ?? '?'})`}`;
    }
    default:
      return '';
  }
}

/** The full message, ending with a newline. `ledgerId` is the ledger's genesis id (its own id for the genesis). */
export function commitMessage(ev: LedgerEvent): string {
  const type = ev.event.type;
  let line = oneLine(`${type}: ${summary(type, (ev.event.body ?? {}) as Body)}`);
  if ([...line].length > MAX_SUMMARY) line = [...line].slice(0, MAX_SUMMARY - 3).join('') + '...';
  const ledger = ev.event.ledger ?? ev.id;
  return `${line}\n\nEvent-Id: ${ev.id}\nEvent-Type: ${type}\nLedger: ${ledger}\n`;
}

/** Reads the trailers back from a commit message (for display and for the first sanity check of a pull). */
export function parseTrailers(message: string): Record<string, string> {
  const out: Record<string, string> = {};
  const blocks = message.trimEnd().split('\n\n');
  for (const line of blocks[blocks.length - 1].split('\n')) {
    const m = /^([A-Za-z-]+): (.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** How events read in the terminal and in --json documents. Pure functions: output.ts does the writing. */
import type { LedgerEvent } from '../lib/core/event.ts';
import type { Ledger } from '../lib/core/ledger.ts';

/** What formatting reads of a ledger: a loaded Ledger or the read index's view of it. */
type Members = Pick<Ledger, 'member'>;

/** An event as --json commands print it. */
export function eventJson(ev: LedgerEvent, ledger: Members) {
  return {
    id: ev.id,
    type: ev.event.type,
    time: ev.event.time,
    author: { key: ev.event.author, name: ledger.member(ev.event.author)?.name ?? null },
    parents: ev.event.parents,
    body: ev.event.body
  };
}

export const shortId = (id: string) => id.slice(0, 12);

/** "2026-11-29 14:00:05" (UTC, as stored). */
export const shortTime = (t: string) => t.replace('T', ' ').slice(0, 19);

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** A one-line summary of an event's body. */
export function summary(ev: LedgerEvent): string {
  const e = ev.event;
  switch (e.type) {
    case 'generation': {
      const b = e.body;
      return `${b.platform.name}${b.platform.modelVersion ? ' ' + b.platform.modelVersion : ''} ${b.mode} · ${b.project} (${b.classification}) · ${count(b.outputs.length, 'output')}`;
    }
    case 'policy-snapshot': {
      const b = e.body;
      return `${b.platform.name} ${b.kind} retrieved ${b.retrievedAt.slice(0, 10)}${b.previous ? ` · follows ${shortId(b.previous)}` : ''}`;
    }
    case 'checklist': {
      const b = e.body;
      const items: boolean[] = Object.values(b.items);
      return `${b.project} (${b.classification})${b.platform ? ' · ' + b.platform.name : ''} · ${items.filter(Boolean).length}/${items.length} items`;
    }
    case 'export': {
      const b = e.body;
      return `${count(b.files.length, 'file')} → ${b.destination.label} (${b.destination.kind}${b.destination.encrypted ? ', encrypted' : ''})`;
    }
    case 'derivation': {
      const b = e.body;
      return `${b.operation} with ${b.tool.name}${b.tool.version ? ' ' + b.tool.version : ''} · ${count(b.parents.length, 'file')} → ${count(b.outputs.length, 'file')}`;
    }
    case 'handoff': {
      const b = e.body;
      return `${count(b.files.length, 'file')} → ${b.recipient.name}${b.recipient.organization ? ' (' + b.recipient.organization + ')' : ''}`;
    }
    case 'deletion': {
      const b = e.body;
      return `${b.platform.name} cloud copy: ${b.status}`;
    }
    case 'member': {
      const b = e.body;
      return `${b.action} ${b.member.name} (${b.member.role})${b.ledgerName ? ` · ledger "${b.ledgerName}"` : ''}`;
    }
    default:
      return '';
  }
}

/** One log line: time, short id, type, author, summary. */
export function logLine(ev: LedgerEvent, ledger: Members): string {
  const who = ledger.member(ev.event.author)?.name ?? ev.event.author.slice(0, 8);
  return `${shortTime(ev.event.time)}  ${shortId(ev.id)}  ${ev.event.type.padEnd(15)}  ${who.padEnd(12)}  ${summary(ev)}`;
}

/** Renders a JSON value as indented "key: value" lines; FileRefs get one line each. */
export function renderValue(value: unknown, indent = '  '): string[] {
  const lines: string[] = [];
  const walk = (v: unknown, pad: string, label: string) => {
    if (Array.isArray(v)) {
      if (v.length === 0) return lines.push(`${pad}${label}: (none)`);
      lines.push(`${pad}${label}:`);
      for (const item of v) {
        if (isFileRef(item)) lines.push(`${pad}  - ${fileLine(item)}`);
        else if (item && typeof item === 'object') {
          lines.push(`${pad}  -`);
          for (const [k, x] of Object.entries(item)) walk(x, pad + '    ', k);
        } else lines.push(`${pad}  - ${item}`);
      }
    } else if (v && typeof v === 'object') {
      lines.push(`${pad}${label}:`);
      for (const [k, x] of Object.entries(v)) walk(x, pad + '  ', k);
    } else {
      const text = String(v);
      if (text.includes('\n')) {
        lines.push(`${pad}${label}: |`);
        for (const l of text.split('\n')) lines.push(`${pad}  ${l}`);
      } else lines.push(`${pad}${label}: ${text}`);
    }
  };
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, x] of Object.entries(value)) walk(x, indent, k);
  } else walk(value, indent, 'value');
  return lines;
}

function isFileRef(v: unknown): v is { name: string; size: number; sha256: string; set?: string; role?: string } {
  return (
    !!v &&
    typeof v === 'object' &&
    typeof (v as Record<string, unknown>).sha256 === 'string' &&
    typeof (v as Record<string, unknown>).name === 'string'
  );
}

export function fileLine(f: { name: string; size: number; sha256: string; set?: string; role?: string }): string {
  const tags = [f.role, f.set && f.set !== f.name ? `in ${f.set}` : undefined].filter(Boolean).join(', ');
  return `${f.name}  ${formatSize(f.size)}  sha256:${f.sha256}${tags ? `  (${tags})` : ''}`;
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(1)} ${units[u]}`;
}

/** Where a hash appears inside a body, as JSON paths ("outputs[0].sha256", "target.files[1]"). */
export function mentionsOf(body: unknown, sha256: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown, p: string) => {
    if (v === sha256) out.push(p);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${p}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, p ? `${p}.${k}` : k);
  };
  walk(body, '');
  return out;
}

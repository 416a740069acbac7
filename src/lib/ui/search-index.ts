/**
 * A compact index over the events for the search page: one flat row per event with the fields the filters
 * compare (lowercased once), so filtering 10,000 events is a tight loop over plain arrays (a few ms).
 * Rows are cached per event object, so appending one event re-indexes one event, not the whole ledger.
 */
import type { LedgerEvent } from '#lib/core/event.ts';
import { bodyOf, classificationOf, memberNames, platformOf, projectOf, timeOf, typeOf } from '../core/insights.ts';

export interface SearchFilter {
  text?: string;
  type?: string;
  platform?: string;
  project?: string;
  classification?: string;
  /** The author's public key. */
  author?: string;
  /** Inclusive dates, YYYY-MM-DD (local calendar days). */
  from?: string;
  to?: string;
}

interface Row {
  type: string;
  time: number;
  platform: string;
  project: string;
  classification: string;
  author: string;
  /** Lowercased: the body as JSON (names, hashes, notes) plus the event id and type. */
  haystack: string;
}

const rows = new WeakMap<LedgerEvent, Row>();

function rowOf(e: LedgerEvent): Row {
  let r = rows.get(e);
  if (!r) {
    const t = Date.parse(timeOf(e));
    r = {
      type: typeOf(e),
      time: Number.isNaN(t) ? 0 : t,
      platform: (platformOf(e) ?? '').toLowerCase(),
      project: (projectOf(e) ?? '').toLowerCase(),
      classification: classificationOf(e) ?? '',
      author: typeof e.event?.author === 'string' ? e.event.author : '',
      haystack: `${e.id} ${typeOf(e)} ${JSON.stringify(bodyOf(e))}`.toLowerCase()
    };
    rows.set(e, r);
  }
  return r;
}

/** Local midnight of a YYYY-MM-DD day, or NaN. */
function dayStart(day: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime() : NaN;
}

export class SearchIndex {
  readonly events: readonly LedgerEvent[];
  readonly #rows: Row[];
  /** Author key → name, from member events. */
  readonly authors: Map<string, string>;

  /** `events` oldest first (as the session holds them); results come newest first. */
  constructor(events: readonly LedgerEvent[]) {
    this.events = events;
    this.#rows = events.map(rowOf);
    this.authors = memberNames(events);
  }

  get size(): number {
    return this.events.length;
  }

  /** Indexes into `events` of the matches, newest first. */
  filter(f: SearchFilter): number[] {
    const words = (f.text ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const platform = f.platform?.trim().toLowerCase() || '';
    const project = f.project?.trim().toLowerCase() || '';
    const from = f.from ? dayStart(f.from) : NaN;
    const toStart = f.to ? dayStart(f.to) : NaN;
    const to = Number.isNaN(toStart) ? NaN : toStart + 86_400_000 - 1;
    const out: number[] = [];
    const rs = this.#rows;
    for (let i = rs.length - 1; i >= 0; i--) {
      const r = rs[i];
      if (f.type && r.type !== f.type) continue;
      if (f.classification && r.classification !== f.classification) continue;
      if (f.author && r.author !== f.author) continue;
      if (platform && r.platform !== platform) continue;
      if (project && r.project !== project) continue;
      if (!Number.isNaN(from) && r.time < from) continue;
      if (!Number.isNaN(to) && r.time > to) continue;
      let ok = true;
      for (const w of words) {
        if (!r.haystack.includes(w)) {
          ok = false;
          break;
        }
      }
      if (ok) out.push(i);
    }
    return out;
  }

  /** Distinct values for the filter menus. */
  values(field: 'platform' | 'project'): string[] {
    const s = new Map<string, string>();
    for (const e of this.events) {
      const v = field === 'platform' ? platformOf(e) : projectOf(e);
      if (v && !s.has(v.toLowerCase())) s.set(v.toLowerCase(), v);
    }
    return [...s.values()].sort((a, b) => a.localeCompare(b));
  }
}

/**
 * What changed between two snapshots of a platform's policy: the text by lines (line breaks and paragraphs
 * kept, only the words that differ marked), and the answers to the key questions with their flags.
 * Pure functions; everything returned is plain text or data for Svelte to escape.
 */
import { diffArrays, diffWordsWithSpace } from 'diff';
import { ANSWER_LABELS, QUESTIONS, flagOf, normalizeText, type AnswerValue, type Flag } from './policy.ts';

export interface Segment {
  text: string;
  /** Words that differ from the other side. */
  changed: boolean;
}

export interface DiffRow {
  /** undefined: nothing on this side (a line added or removed). */
  left?: Segment[];
  right?: Segment[];
  changed: boolean;
  /** The line opens a paragraph (a blank line before it in the text). */
  para: boolean;
}

export interface DiffResult {
  rows: DiffRow[];
  /** Runs of changed lines (a passage: the lines between two unchanged ones). */
  changedSections: number;
  addedChars: number;
  removedChars: number;
}

interface Line {
  text: string;
  para: boolean;
}

/** The text's non-blank lines, each saying whether a blank line (a paragraph break) comes before it. */
export function linesOf(text: string): Line[] {
  const out: Line[] = [];
  let para = false;
  for (const l of normalizeText(text).split('\n')) {
    if (l === '') {
      para = out.length > 0;
      continue;
    }
    out.push({ text: l, para });
    para = false;
  }
  return out;
}

const words = (s: string): string[] => s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

/** How alike two lines are: the share of the longer line's words found in the other (0..1). */
export function similarity(a: string, b: string): number {
  const wa = words(a);
  const wb = words(b);
  if (wa.length === 0 || wb.length === 0) return a.trim() === b.trim() ? 1 : 0;
  const count = new Map<string, number>();
  for (const w of wb) count.set(w, (count.get(w) ?? 0) + 1);
  let common = 0;
  for (const w of wa) {
    const n = count.get(w) ?? 0;
    if (n > 0) {
      common++;
      count.set(w, n - 1);
    }
  }
  return common / Math.max(wa.length, wb.length);
}

/** Lines this alike are one line edited (diffed word by word); less alike, one removed and another added. */
const PAIR = 0.5;

/**
 * Word diff of two lines: only the words that differ are marked. A removed run next to an added run that
 * share leading or trailing words gives those words back to the unchanged text, so an unchanged word is
 * never shown as deleted and inserted.
 */
export function wordDiff(a: string, b: string): { left: Segment[]; right: Segment[] } {
  const left: Segment[] = [];
  const right: Segment[] = [];
  const push = (side: Segment[], text: string, changed: boolean) => {
    if (!text) return;
    const last = side[side.length - 1];
    if (last && last.changed === changed) last.text += text;
    else side.push({ text, changed });
  };
  const parts = diffWordsWithSpace(a, b);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (!p.added && !p.removed) {
      push(left, p.value, false);
      push(right, p.value, false);
      continue;
    }
    let removed = p.removed ? p.value : '';
    let added = p.added ? p.value : '';
    const q = parts[i + 1];
    if (q && (q.added || q.removed) && q.added !== p.added) {
      if (q.added) added = q.value;
      else removed = q.value;
      i++;
    }
    // Common leading and trailing words (with their spaces) are unchanged.
    const tokens = (s: string) => s.match(/\s+|[^\s]+/g) ?? [];
    const ra = tokens(removed);
    const ad = tokens(added);
    let head = 0;
    while (head < ra.length && head < ad.length && ra[head] === ad[head]) head++;
    let tail = 0;
    while (tail < ra.length - head && tail < ad.length - head && ra[ra.length - 1 - tail] === ad[ad.length - 1 - tail])
      tail++;
    const pre = ra.slice(0, head).join('');
    const post = tail ? ra.slice(ra.length - tail).join('') : '';
    push(left, pre, false);
    push(right, pre, false);
    // The spaces around words only added (or only removed) are not marked: only the words are.
    const mark = (side: Segment[], text: string) => {
      const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(text) ?? ['', '', text, ''];
      push(side, m[1], false);
      push(side, m[2], true);
      push(side, m[3], false);
    };
    mark(left, ra.slice(head, ra.length - tail).join(''));
    mark(right, ad.slice(head, ad.length - tail).join(''));
    push(left, post, false);
    push(right, post, false);
  }
  return { left, right };
}

const changedLength = (segs: Segment[]) => segs.reduce((n, s) => n + (s.changed ? s.text.length : 0), 0);

/**
 * A side-by-side diff by lines: equal lines side by side, edited lines paired and diffed word by word,
 * added or removed lines facing an empty cell. Paragraph breaks are kept on each row (`para`).
 */
export function policyDiff(oldText: string, newText: string): DiffResult {
  const a = linesOf(oldText);
  const b = linesOf(newText);
  const parts = diffArrays(
    a.map((l) => l.text),
    b.map((l) => l.text)
  );
  const rows: DiffRow[] = [];
  let addedChars = 0;
  let removedChars = 0;
  let changedSections = 0;
  let ia = 0;
  let ib = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (!p.added && !p.removed) {
      for (const text of p.value) {
        rows.push({
          left: [{ text, changed: false }],
          right: [{ text, changed: false }],
          changed: false,
          para: b[ib].para
        });
        ia++;
        ib++;
      }
      continue;
    }
    const next = parts[i + 1];
    const removed: Line[] = [];
    const added: Line[] = [];
    const take = (part: typeof p) => {
      if (part.removed) for (let k = 0; k < part.value.length; k++) removed.push(a[ia++]);
      else for (let k = 0; k < part.value.length; k++) added.push(b[ib++]);
    };
    take(p);
    if (next && (next.added || next.removed) && next.added !== p.added) {
      take(next);
      i++;
    }
    changedSections++;
    // Pair each removed line with the next added line alike enough; the added lines skipped are new.
    let k = 0;
    for (const l of removed) {
      let match = -1;
      for (let j = k; j < added.length; j++) {
        if (similarity(l.text, added[j].text) >= PAIR) {
          match = j;
          break;
        }
      }
      if (match < 0) {
        removedChars += l.text.length;
        rows.push({ left: [{ text: l.text, changed: true }], changed: true, para: l.para });
        continue;
      }
      for (; k < match; k++) {
        addedChars += added[k].text.length;
        rows.push({ right: [{ text: added[k].text, changed: true }], changed: true, para: added[k].para });
      }
      const { left, right } = wordDiff(l.text, added[k].text);
      removedChars += changedLength(left);
      addedChars += changedLength(right);
      rows.push({ left, right, changed: true, para: added[k].para });
      k++;
    }
    for (; k < added.length; k++) {
      addedChars += added[k].text.length;
      rows.push({ right: [{ text: added[k].text, changed: true }], changed: true, para: added[k].para });
    }
  }
  return { rows, changedSections, addedChars, removedChars };
}

export type Shown = { kind: 'row'; row: DiffRow; index: number } | { kind: 'skip'; lines: number };

/** The changed rows with `context` unchanged rows either side; each run of hidden rows becomes one "skip". */
export function changedWithContext(rows: readonly DiffRow[], context = 1): Shown[] {
  const keep = new Array<boolean>(rows.length).fill(false);
  rows.forEach((r, i) => {
    if (!r.changed) return;
    for (let j = Math.max(0, i - context); j <= Math.min(rows.length - 1, i + context); j++) keep[j] = true;
  });
  const out: Shown[] = [];
  let skipped = 0;
  rows.forEach((row, index) => {
    if (keep[index]) {
      if (skipped) out.push({ kind: 'skip', lines: skipped });
      skipped = 0;
      out.push({ kind: 'row', row, index });
    } else skipped++;
  });
  if (skipped && out.length) out.push({ kind: 'skip', lines: skipped });
  return out;
}

/* ---- the answers ---- */

export interface AnswerChange {
  key: string;
  /** The question in a few words ("training on inputs"). */
  label: string;
  from: AnswerValue;
  to: AnswerValue;
  fromFlag: Flag;
  toFlag: Flag;
  /** Days kept after deletion, when either snapshot says. */
  fromDays?: number;
  toDays?: number;
  /** The flag turned red, or from green to something else: worse for the artist. */
  worse: boolean;
}

const ANSWERS: readonly string[] = ['yes', 'no', 'unclear', 'not-stated'];
function read(answers: unknown, key: string): { answer: AnswerValue; days?: number } {
  const all = typeof answers === 'object' && answers !== null ? (answers as Record<string, unknown>) : {};
  const a = typeof all[key] === 'object' && all[key] !== null ? (all[key] as Record<string, unknown>) : {};
  const answer = (typeof a.answer === 'string' && ANSWERS.includes(a.answer) ? a.answer : 'not-stated') as AnswerValue;
  return { answer, ...(typeof a.days === 'number' ? { days: a.days } : {}) };
}

const RANK: Record<Flag, number> = { green: 0, amber: 1, red: 2 };

/** The key questions whose answer (or days kept) differs between two snapshots' answers, in question order. */
export function compareAnswers(before: unknown, after: unknown): AnswerChange[] {
  const out: AnswerChange[] = [];
  for (const q of QUESTIONS) {
    const x = read(before, q.key);
    const y = read(after, q.key);
    if (x.answer === y.answer && x.days === y.days) continue;
    const fromFlag = flagOf(q.key, x.answer);
    const toFlag = flagOf(q.key, y.answer);
    const daysWorse = x.answer === y.answer && x.days !== undefined && y.days !== undefined && y.days > x.days;
    out.push({
      key: q.key,
      label: q.short,
      from: x.answer,
      to: y.answer,
      fromFlag,
      toFlag,
      ...(x.days !== undefined ? { fromDays: x.days } : {}),
      ...(y.days !== undefined ? { toDays: y.days } : {}),
      worse: RANK[toFlag] > RANK[fromFlag] || daysWorse
    });
  }
  return out;
}

/** One change in words: "training on inputs: Not stated → Yes" (with the days kept when they changed). */
export function describeChange(c: AnswerChange): string {
  const side = (a: AnswerValue, d?: number) => `${ANSWER_LABELS[a]}${d !== undefined ? ` (${d} days)` : ''}`;
  const daysShown = c.fromDays !== c.toDays;
  return `${c.label}: ${side(c.from, daysShown ? c.fromDays : undefined)} → ${side(c.to, daysShown ? c.toDays : undefined)}`;
}

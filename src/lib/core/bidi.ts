/**
 * Bidirectional formatting characters (Unicode UAX #9): the embeddings and overrides U+202A–U+202E, the isolates
 * U+2066–U+2069 and the marks U+200E, U+200F and U+061C. Invisible, they reorder the text around them: a file
 * named `robot<U+202E>bgl.exe` reads as `robotexe.lgb`, and an override in a name can run on over the rest of a
 * log line. The policy (ledger-schema/README.md section 9):
 *
 * - Writers refuse them in every single-line string of a new event (names, titles, projects, platforms, file
 *   names, labels, URLs): bidiProblems, run by Ledger.append and Ledger.create beside the schema. Free texts
 *   (notes, reason, terms, a change summary, a policy excerpt) may hold them: right-to-left prose uses the marks.
 * - The schema does not forbid them, so an event recorded before this rule (or by another writer) still
 *   validates and verifies, and its journal commit (whose subject holds its labels) is unchanged.
 * - Wherever such text is shown it is escaped: escapeBidi (the CLI's terminal and JSON output, the web app).
 */
import type { SchemaProblem } from './validate.ts';

/** One bidirectional formatting character (test with it; no `g` flag, so it keeps no state). */
export const BIDI_CONTROL = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMES: Record<string, string> = {
  '\u061c': 'ARABIC LETTER MARK',
  '\u200e': 'LEFT-TO-RIGHT MARK',
  '\u200f': 'RIGHT-TO-LEFT MARK',
  '\u202a': 'LEFT-TO-RIGHT EMBEDDING',
  '\u202b': 'RIGHT-TO-LEFT EMBEDDING',
  '\u202c': 'POP DIRECTIONAL FORMATTING',
  '\u202d': 'LEFT-TO-RIGHT OVERRIDE',
  '\u202e': 'RIGHT-TO-LEFT OVERRIDE',
  '\u2066': 'LEFT-TO-RIGHT ISOLATE',
  '\u2067': 'RIGHT-TO-LEFT ISOLATE',
  '\u2068': 'FIRST STRONG ISOLATE',
  '\u2069': 'POP DIRECTIONAL ISOLATE'
};

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** The text with each bidirectional formatting character shown as `<U+202E>`: it reorders nothing. */
export function escapeBidi(s: string): string {
  return s.replace(BIDI_CONTROLS, (c) => `<${codePoint(c)}>`);
}

/** The free texts of a body, as JSON pointers: they may hold bidirectional marks (right-to-left prose). */
const FREE_TEXT = [/^\/notes$/, /^\/reason$/, /^\/terms$/, /^\/changes\/summary$/, /^\/answers\/[^/]+\/excerpt$/];

/**
 * The recording rule: every string of a body other than its free texts must hold no bidirectional formatting
 * character. One problem per string, located from the event (`/body/project`), naming the field and the
 * character. Only writers apply it: verification does not (events recorded before it still verify).
 */
export function bidiProblems(body: unknown): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const walk = (v: unknown, pointer: string, readable: string, depth: number) => {
    if (depth > 32) return;
    if (typeof v === 'string') {
      const m = BIDI_CONTROL.exec(v);
      if (m && !FREE_TEXT.some((re) => re.test(pointer))) {
        problems.push({
          path: `/body${pointer}`,
          message: `${readable} holds ${codePoint(m[0])} (${NAMES[m[0]]}), a bidirectional control that can make text read in another order: not allowed in names, titles, file names and other labels`
        });
      }
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${pointer}/${i}`, `${readable}[${i}]`, depth + 1));
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const seg = k.replace(/~/g, '~0').replace(/\//g, '~1');
        walk(
          x,
          `${pointer}/${seg}`,
          /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? `${readable}.${k}` : `${readable}[${JSON.stringify(escapeBidi(k))}]`,
          depth + 1
        );
      }
    }
  };
  walk(body, '', 'body', 0);
  return problems;
}

/**
 * Policy documents on the page: HTML read as text (never rendered), the key questions with their flags, and the
 * quarterly review reminders as an iCalendar file.
 * Everything returned is plain text or data for Svelte to escape.
 */
export const QUESTIONS = [
  {
    key: 'trainingOnInputs',
    short: 'training on inputs',
    label: 'Are prompts and input files used for training?',
    good: 'no',
    keywords: ['train', 'prompt', 'input', 'upload', 'improve our model', 'machine learning']
  },
  {
    key: 'trainingOnOutputs',
    short: 'training on outputs',
    label: 'Are generated outputs used for training?',
    good: 'no',
    keywords: ['output', 'generated', 'creations', 'train', 'improve']
  },
  {
    key: 'optOutAvailable',
    short: 'opt-out of training',
    label: 'Can you opt out of training?',
    good: 'yes',
    keywords: ['opt out', 'opt-out', 'disable', 'settings']
  },
  {
    key: 'retentionAfterDeletion',
    short: 'files kept after deletion',
    label: 'Are files kept after you delete them?',
    good: 'no',
    keywords: ['retain', 'retention', 'delete', 'days', 'backup']
  },
  {
    key: 'thirdPartySharing',
    short: 'sharing with third parties',
    label: 'Is content shared with third parties?',
    good: 'no',
    keywords: ['third part', 'share', 'partner', 'vendor', 'sub-processor']
  },
  {
    key: 'internalAccess',
    short: 'staff access',
    label: 'Can the platform’s staff access your content?',
    good: 'no',
    keywords: ['employee', 'staff', 'personnel', 'access', 'review']
  },
  // Optional questions (absent from older snapshots: read as "not stated"; recorded only when answered).
  {
    key: 'outputsOwned',
    short: 'you own the outputs',
    label: 'Do you own the generated outputs?',
    good: 'yes',
    optional: true,
    keywords: ['user content', 'ownership', 'own', 'owner', 'intellectual property', 'rights']
  },
  {
    key: 'contentLicense',
    short: 'licence to your content',
    label: 'Does the platform take a licence to your inputs or outputs beyond running the service?',
    good: 'no',
    optional: true,
    keywords: ['license', 'licence', 'grant', 'royalty-free', 'worldwide', 'sublicens']
  },
  {
    key: 'trainingDataDisclosed',
    short: 'training data disclosed',
    label: 'Does the platform say what its models are trained on?',
    good: 'yes',
    optional: true,
    keywords: ['trained on', 'training data', 'dataset', 'data sources', 'licensed data']
  },
  {
    key: 'dataProtectionCommitments',
    short: 'DPA / GDPR / CCPA commitments',
    label: 'Does the platform commit to data protection terms (a DPA, GDPR, CCPA)?',
    good: 'yes',
    optional: true,
    keywords: ['gdpr', 'ccpa', 'data processing', 'dpa', 'processor', 'controller']
  }
] as const;
/** Whether a question is one of the optional ones (written only when answered). */
export const isOptional = (key: string): boolean =>
  QUESTIONS.some((q) => q.key === key && 'optional' in q && q.optional);
export type QuestionKey = (typeof QUESTIONS)[number]['key'];
export type AnswerValue = 'yes' | 'no' | 'unclear' | 'not-stated';
export const ANSWER_LABELS: Record<AnswerValue, string> = {
  yes: 'Yes',
  no: 'No',
  unclear: 'Unclear',
  'not-stated': 'Not stated'
};

export const POLICY_KINDS = ['privacy-policy', 'terms-of-service', 'dpa', 'model-license', 'other'] as const;
export const KIND_LABELS: Record<string, string> = {
  'privacy-policy': 'Privacy policy',
  'terms-of-service': 'Terms of service',
  dpa: 'Data processing agreement',
  'model-license': 'Model licence',
  other: 'Other'
};

export type Flag = 'green' | 'red' | 'amber';

/** Green when the answer protects the artist, red when it exposes them, amber when the policy is vague. */
export function flagOf(key: string, answer: string): Flag {
  if (answer !== 'yes' && answer !== 'no') return 'amber';
  const q = QUESTIONS.find((x) => x.key === key);
  if (!q) return 'amber';
  return answer === q.good ? 'green' : 'red';
}

const SKIP = new Set([
  'SCRIPT',
  'STYLE',
  'X-STYLE',
  'NOSCRIPT',
  'TEMPLATE',
  'HEAD',
  'IFRAME',
  'OBJECT',
  'SVG',
  'CANVAS',
  'SELECT',
  'BUTTON'
]);
const BLOCK = new Set([
  'P',
  'DIV',
  'SECTION',
  'ARTICLE',
  'HEADER',
  'FOOTER',
  'MAIN',
  'ASIDE',
  'NAV',
  'H1',
  'H2',
  'H3',
  'H4',
  'H5',
  'H6',
  'LI',
  'UL',
  'OL',
  'DL',
  'DT',
  'DD',
  'TABLE',
  'TR',
  'BLOCKQUOTE',
  'PRE',
  'ADDRESS',
  'FIGURE',
  'FIGCAPTION',
  'HR',
  'BR',
  'BODY'
]);

/**
 * The readable text of an HTML document. DOMParser builds an inert document (no scripts run, nothing
 * loads); only text nodes are read, so markup in the source can never become markup on the page.
 */
export function htmlToText(html: string, parser: DOMParser = new DOMParser()): string {
  // Chromium checks an inert document's inline styles and event-handler attributes against the page's CSP
  // and logs a (harmless) violation for each. Renaming them first keeps the console quiet; safety does not
  // depend on it, since nothing in a DOMParser document runs and only text nodes are read below.
  const quiet = html
    .replace(/<(\/?)style\b/gi, '<$1x-style')
    .replace(/<[a-z][^<>]*>/gi, (tag) => tag.replace(/(\s)(on[a-z]+|style)(\s*=)/gi, '$1data-x-$2$3'));
  const doc = parser.parseFromString(quiet, 'text/html');
  const out: string[] = [];
  const walk = (node: Node) => {
    if (node.nodeType === 3) {
      out.push((node.nodeValue ?? '').replace(/\s+/g, ' '));
      return;
    }
    if (node.nodeType !== 1) return;
    const el = node as Element;
    const tag = el.tagName.toUpperCase();
    if (SKIP.has(tag)) return;
    const block = BLOCK.has(tag);
    if (block) out.push('\n\n');
    if (tag === 'LI') out.push('• ');
    for (const child of Array.from(el.childNodes)) walk(child);
    if (block) out.push('\n\n');
    else if (tag === 'TD' || tag === 'TH') out.push(' ');
  };
  walk(doc.body ?? doc.documentElement);
  return normalizeText(out.join(''));
}

/** Trimmed lines, at most one blank line between paragraphs, LF line ends. */
export function normalizeText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Does this look like HTML (a dropped .html file, or pasted markup)? */
export const looksLikeHtml = (text: string): boolean =>
  /^\s*(<!doctype html|<html[\s>]|<body[\s>]|<head[\s>])/i.test(text) || /<\/(p|div|h[1-6]|li|section)>/i.test(text);

export const paragraphs = (text: string): string[] =>
  normalizeText(text)
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\n/g, ' ').trim())
    .filter(Boolean);

/** Sentences of the text that mention a question's keywords: candidates for its excerpt. */
export function excerptsFor(text: string, key: QuestionKey, max = 3): string[] {
  const q = QUESTIONS.find((x) => x.key === key);
  if (!q) return [];
  const sentences = normalizeText(text)
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 12);
  // The sentences that mention the most keywords first, in document order among equals.
  const hits = sentences
    .map((s, i) => {
      const l = s.toLowerCase();
      return { s, i, score: q.keywords.filter((k) => l.includes(k)).length };
    })
    .filter((h) => h.score > 0)
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map((h) => h.s);
  return hits.slice(0, max).map((s) => (s.length > 600 ? `${s.slice(0, 597)}…` : s));
}

/* The side-by-side diff between two snapshots' texts, and the comparison of their answers: policy-diff.ts. */

/* ---- iCalendar (RFC 5545) ---- */

/** TEXT value escaping (RFC 5545 3.3.11). */
export const icsEscape = (s: string): string =>
  s.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');

/** Content lines folded at 75 octets (3.1), never inside a UTF-8 sequence. */
export function icsFold(line: string): string {
  const enc = new TextEncoder();
  const out: string[] = [];
  let cur = '';
  let octets = 0;
  for (const ch of line) {
    const n = enc.encode(ch).length;
    if (octets + n > (out.length === 0 ? 75 : 74)) {
      out.push(cur);
      cur = '';
      octets = 0;
    }
    cur += ch;
    octets += n;
  }
  out.push(cur);
  return out.join('\r\n ');
}

const icsDate = (d: Date): string =>
  `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
const icsStamp = (d: Date): string =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

export interface Reminder {
  platform: string;
  /** The first review day (the next due date, or today when overdue). */
  start: Date;
  /** A stable id for the series, so re-importing updates it instead of duplicating it. */
  uid: string;
}

/** A calendar of quarterly review reminders: one all-day event per platform, repeating every 3 months. */
export function reviewCalendar(reminders: Reminder[], ledgerName: string, now = new Date()): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Provenance Ledger//Policy reviews//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH'
  ];
  for (const r of reminders) {
    const end = new Date(r.start.getTime() + 86_400_000);
    lines.push(
      'BEGIN:VEVENT',
      `UID:${r.uid}`,
      `DTSTAMP:${icsStamp(now)}`,
      `DTSTART;VALUE=DATE:${icsDate(r.start)}`,
      `DTEND;VALUE=DATE:${icsDate(end)}`,
      'RRULE:FREQ=MONTHLY;INTERVAL=3',
      `SUMMARY:${icsEscape(`Review ${r.platform} policies`)}`,
      `DESCRIPTION:${icsEscape(`Quarterly review for ${ledgerName}: read ${r.platform}'s current privacy policy and terms, and record a new policy snapshot in Provenance Ledger.`)}`,
      'TRANSP:TRANSPARENT',
      'BEGIN:VALARM',
      'ACTION:DISPLAY',
      `DESCRIPTION:${icsEscape(`Review ${r.platform} policies`)}`,
      'TRIGGER:PT9H',
      'END:VALARM',
      'END:VEVENT'
    );
  }
  lines.push('END:VCALENDAR');
  return lines.map(icsFold).join('\r\n') + '\r\n';
}

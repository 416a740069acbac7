/**
 * Human words for the codes events carry: every view shows a code through these, never the code itself.
 * A code not listed (an event from a newer version, or from a peer) is turned into words the plain way
 * ("uv-unwrap" → "Uv unwrap"), so no raw code with hyphens reaches a page.
 */
import { CLASSIFICATION_LABELS, MODE_LABELS } from './format.ts';
import { ANSWER_LABELS, KIND_LABELS } from './policy.ts';

export const DESTINATION_KIND_LABELS: Record<string, string> = {
  'encrypted-drive': 'Encrypted drive',
  nas: 'NAS',
  backup: 'Backup',
  local: 'Local disk',
  'cloud-storage': 'Cloud storage',
  other: 'Other'
};

export const DELETION_STATUS_LABELS: Record<string, string> = {
  requested: 'Requested',
  confirmed: 'Confirmed',
  failed: 'Failed'
};

export const EVIDENCE_KIND_LABELS: Record<string, string> = {
  email: 'E-mail',
  screenshot: 'Screenshot',
  'api-response': 'API response',
  other: 'Other'
};

export const OPERATION_LABELS: Record<string, string> = {
  retopology: 'Retopology',
  texturing: 'Texturing',
  rigging: 'Rigging',
  'uv-unwrap': 'UV unwrap',
  decimation: 'Decimation',
  sculpting: 'Sculpting',
  'format-conversion': 'Format conversion',
  compositing: 'Compositing',
  other: 'Other'
};

export const ROLE_LABELS: Record<string, string> = {
  owner: 'Owner',
  admin: 'Admin',
  member: 'Member',
  viewer: 'Viewer'
};

/** "some-code" or "someCode" → "Some code": the fallback for a code no table knows. */
export function plainWords(code: string): string {
  const s = code
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[-_]+/g, ' ')
    .trim()
    .toLowerCase();
  return s ? s[0].toUpperCase() + s.slice(1) : code;
}

const from =
  (table: Record<string, string>) =>
  (code: unknown): string =>
    typeof code === 'string' ? (Object.hasOwn(table, code) ? table[code] : plainWords(code)) : '';

export const modeWord = from(MODE_LABELS);
export const classificationWord = from(CLASSIFICATION_LABELS);
export const policyKindWord = from(KIND_LABELS);
export const answerWord = from(ANSWER_LABELS);
export const destinationKindWord = from(DESTINATION_KIND_LABELS);
export const deletionStatusWord = from(DELETION_STATUS_LABELS);
export const evidenceKindWord = from(EVIDENCE_KIND_LABELS);
export const operationWord = from(OPERATION_LABELS);
export const roleWord = from(ROLE_LABELS);

/** Display helpers shared by the pages. They return plain strings: Svelte escapes them when rendering. */

export const shortId = (id: string): string => id.slice(0, 12);

/**
 * A time as recorded: a date entered without a time (a policy's retrieval date) is recorded as midnight UTC of
 * that day, and shown as the date alone (in UTC, so that it is the day entered, wherever it is read).
 */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  if (/^\d{4}-\d{2}-\d{2}(T00:00(:00(\.0+)?)?(Z|[+-]00:?00))?$/.test(iso)) {
    return d.toLocaleDateString(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
  }
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

const TYPE_LABELS: Record<string, string> = {
  generation: 'Generation',
  'policy-snapshot': 'Policy snapshot',
  checklist: 'Checklist',
  export: 'Export',
  derivation: 'Derivation',
  handoff: 'Handoff',
  deletion: 'Deletion',
  member: 'Member',
  genesis: 'Ledger created'
};

export const typeLabel = (type: string): string => TYPE_LABELS[type] ?? type;

export const MODE_LABELS: Record<string, string> = {
  'text-to-3d': 'Text to 3D',
  'image-to-3d': 'Image to 3D',
  'multiview-to-3d': 'Multi-view images to 3D',
  'text-to-texture': 'Text to texture',
  retexture: 'Retexture',
  other: 'Other'
};

export const CLASSIFICATION_LABELS: Record<string, string> = {
  public: 'Public',
  personal: 'Personal',
  confidential: 'Confidential',
  client: 'Client (under NDA)'
};

/**
 * What changed between two versions of a policy text, in numbers: hunks of changed lines, characters added
 * and removed. A line diff by longest common subsequence; policy texts run to a few thousand lines, and
 * identical leading and trailing lines are trimmed first, so the table stays small in practice.
 */
export interface TextChanges {
  changedSections: number;
  addedChars: number;
  removedChars: number;
}

const MAX_CELLS = 25_000_000;

export function diffStats(before: string, after: string): TextChanges | undefined {
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const x = a.slice(start, endA);
  const y = b.slice(start, endB);
  if (x.length === 0 && y.length === 0) return { changedSections: 0, addedChars: 0, removedChars: 0 };
  if ((x.length + 1) * (y.length + 1) > MAX_CELLS) return undefined;
  // lcs[i][j] = length of the LCS of x[i..] and y[j..]
  const w = y.length + 1;
  const lcs = new Uint32Array((x.length + 1) * w);
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      lcs[i * w + j] =
        x[i] === y[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  let i = 0;
  let j = 0;
  let inHunk = false;
  const stats = { changedSections: 0, addedChars: 0, removedChars: 0 };
  const change = () => {
    if (!inHunk) stats.changedSections++;
    inHunk = true;
  };
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      inHunk = false;
      i++;
      j++;
    } else if (j < y.length && (i === x.length || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j])) {
      change();
      stats.addedChars += y[j++].length + 1;
    } else {
      change();
      stats.removedChars += x[i++].length + 1;
    }
  }
  return stats;
}

/**
 * The shape of the verifier's statements (core describeFacts: one string a line) for display: a line ending in
 * ":" heads a section, "- " starts an item, an indented line continues the item before it, any other line is a
 * sentence of its own. Lines from a reader without sections or items (every line a sentence) become one list.
 * Only the shape is read here: the text is shown as it is (as text, never markup).
 */
export type StatementBlock =
  { kind: 'text'; text: string } | { kind: 'list'; items: Array<{ text: string; more: string[] }> };
export interface StatementSection {
  head?: string;
  blocks: StatementBlock[];
}

const HEAD = /^[^\s-].*:$/;
const ITEM = /^- /;
const MORE = /^\s+\S/;

export function shapeStatements(lines: readonly string[]): StatementSection[] {
  const itemized = lines.some((l) => ITEM.test(l) || HEAD.test(l));
  const sections: StatementSection[] = [{ blocks: [] }];
  const section = () => sections[sections.length - 1];
  const list = () => {
    const last = section().blocks.at(-1);
    if (last?.kind === 'list') return last;
    const fresh: StatementBlock = { kind: 'list', items: [] };
    section().blocks.push(fresh);
    return fresh;
  };
  for (const line of lines) {
    if (itemized && HEAD.test(line)) sections.push({ head: line, blocks: [] });
    else if (ITEM.test(line)) list().items.push({ text: line.slice(2).trim(), more: [] });
    else if (MORE.test(line)) {
      const items = list().items;
      if (items.length) items[items.length - 1].more.push(line.trim());
      else items.push({ text: line.trim(), more: [] });
    } else if (!line.trim()) continue;
    else if (itemized) section().blocks.push({ kind: 'text', text: line });
    else list().items.push({ text: line, more: [] });
  }
  return sections.filter((s) => s.head !== undefined || s.blocks.length > 0);
}

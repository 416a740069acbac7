/**
 * No text on the page may reorder the text around it. Names, titles, file names and notes come from the ledger,
 * which holds what peers, files and bundles carried in, and events recorded before the ledger refused
 * bidirectional controls in labels may hold them (src/lib/core/bidi.ts). A right-to-left override in a file
 * name would make `robot<U+202E>bgl.exe` read as `robotexe.lgb`, and run on over the rest of its line.
 *
 * guardBidi shows every such character in the page's text as `<U+202E>` (escapeBidi): once over the text already
 * there, then for every text node added or changed, before the browser paints (mutation observers run as
 * microtasks). Text in a textarea (an editable value) and in script or style elements is left alone; an input's
 * value is not text of the page and is displayed in a paragraph of its own. Svelte updates a text node only when
 * its own value changes, so an escaped node stays escaped until its value does.
 */
import { BIDI_CONTROL, escapeBidi } from '../core/bidi.ts';

const SKIP = new Set(['TEXTAREA', 'SCRIPT', 'STYLE']);

function fixText(node: Text): void {
  const v = node.nodeValue;
  if (v && BIDI_CONTROL.test(v) && !SKIP.has(node.parentNode?.nodeName ?? '')) node.nodeValue = escapeBidi(v);
}

function fixTree(root: Node): void {
  if (root.nodeType === Node.TEXT_NODE) return fixText(root as Text);
  if (
    root.nodeType !== Node.ELEMENT_NODE &&
    root.nodeType !== Node.DOCUMENT_NODE &&
    root.nodeType !== Node.DOCUMENT_FRAGMENT_NODE
  )
    return;
  if (SKIP.has(root.nodeName)) return;
  const walker = (root.ownerDocument ?? (root as Document)).createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) fixText(n as Text);
}

/** Escapes bidirectional controls in the text under `root` now and from now on; returns the stop function. */
export function guardBidi(root: Node = document.documentElement): () => void {
  fixTree(root);
  const observer = new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'characterData') fixText(r.target as Text);
      else for (const n of r.addedNodes) fixTree(n);
    }
  });
  observer.observe(root, { subtree: true, childList: true, characterData: true });
  return () => observer.disconnect();
}

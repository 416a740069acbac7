/**
 * The offline verifier's entry: the one-file page the production build writes as verify-offline.html
 * (vite-plugin.ts inlines this script, its CSS and hash-wasm's WebAssembly into template.html). It checks evidence
 * bundles with the same core code as the web app and the CLI, in the page, with no network at all.
 */
import '#lib/ui/app.css';
import { mount } from 'svelte';
import Offline from './Offline.svelte';
import { guardBidi } from '#lib/ui/bidi-guard.ts';

const target = document.getElementById('app');
if (target) {
  target.textContent = '';
  mount(Offline, { target });
  guardBidi(); // text from a bundle cannot reorder the page's text
}

/**
 * The Svelte compiler options, in one place for the build (vite.config.ts passes them to the sveltekit() plugin)
 * and for ESLint (eslint-plugin-svelte's svelteConfig). SvelteKit 3 refuses a svelte.config.js at the root
 * ("`svelte.config.js` is no longer used"); svelte-check and the Svelte language server read these options
 * from vite.config.ts.
 *
 * Warnings: none is filtered. svelte-check and `vite build` show every compiler warning; one that must stay
 * gets a `<!-- svelte-ignore code -->` beside the code that causes it.
 */

/** @type {import('svelte/compiler').CompileOptions} */
export const compilerOptions = {
  // Every component uses runes ($state, $derived, $props), never `export let` or `$:`.
  runes: true
};

export default { compilerOptions };

/**
 * ESLint (flat config): the recommended rules of ESLint, typescript-eslint and eslint-plugin-svelte, as errors;
 * formatting is Prettier's (eslint-config-prettier turns off the rules that would fight it). `npm run lint`.
 */
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import svelte from 'eslint-plugin-svelte';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteOptions from './svelte.options.js';

export default defineConfig(
  globalIgnores([
    'node_modules/',
    '.svelte-kit/',
    'build/',
    'test-results/',
    'artifacts/',
    'tmp/',
    'src/lib/core/generated/'
  ]),
  js.configs.recommended,
  ts.configs.recommended,
  svelte.configs.recommended,
  prettier,
  svelte.configs.prettier,
  {
    languageOptions: {
      // The core runs in the browser, a worker and Node; the CLI, scripts and tests in Node.
      globals: { ...globals.browser, ...globals.node }
    },
    rules: {
      // `_name` marks a parameter or binding kept on purpose (a callback's position, a destructured rest).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }
      ],
      // Validators reject control characters on purpose: /[\x00-\x1f]/ is what they mean.
      'no-control-regex': 'off',
      // The app is served at the root (no paths.base): a root-relative href is the route, resolve() would
      // return it unchanged.
      'svelte/no-navigation-without-resolve': 'off',
      // It flags every Map, Set, Date and URL in a component or .svelte.ts file, including those built and
      // read within one function. Reactive state here is $state or $state.raw of values replaced, never mutated.
      'svelte/prefer-svelte-reactivity': 'off',
      // {' · '} and {' '} keep a space at a tag's edge where markup whitespace would be trimmed or moved.
      'svelte/no-useless-mustaches': 'off'
    }
  },
  {
    // Tests build hostile and partial shapes on purpose (a field of the wrong type, a missing one).
    files: ['tests/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' }
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts', '**/*.svelte.js'],
    languageOptions: {
      parserOptions: {
        parser: ts.parser,
        extraFileExtensions: ['.svelte'],
        svelteConfig: svelteOptions
      }
    }
  }
);

import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';

const electronOnly = { paths: [{ name: 'electron', message: 'Only src-main/electron/ may import electron.' }] };
const nodeOnly = ['node:*', 'fs', 'path', 'child_process', 'better-sqlite3', 'pg', '@kubernetes/*', 'electron', 'argon2', '@napi-rs/keyring'];

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', 'bench/results/**', 'test/harness/kube-build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.property.name='only']", message: 'No .only in committed tests.' }],
    },
  },
  // The layers: the engine and everything but the shell never import electron.
  { files: ['src-main/engine/**', 'src-main/adapters/**', 'src-main/ipc/**', 'src-main/serve/**', 'src-shared/**'], rules: { 'no-restricted-imports': ['error', electronOnly] } },
  // The contract is pure: no Node, no DOM.
  { files: ['src-shared/**'], rules: { 'no-restricted-imports': ['error', { paths: electronOnly.paths, patterns: nodeOnly }] } },
  // The renderer reaches the engine only through the typed client.
  {
    files: ['src-renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'no-restricted-imports': ['error', { patterns: [...nodeOnly, '**/src-main/**'] }],
    },
  },
);

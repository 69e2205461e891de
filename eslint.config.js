import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';

const nodeOnly = [
  'node:*',
  'fs',
  'path',
  'child_process',
  'better-sqlite3',
  'pg',
  '@kubernetes/*',
  'electron',
  'argon2',
  '@napi-rs/keyring',
];

/*
 * The layers (docs/architecture.md, "enforced by"): the arrows only point down.
 * Each folder gets ONE no-restricted-imports entry (a later entry would replace,
 * not extend, an earlier one's options). Regexes match the import string; the
 * code uses relative imports only, so `../` depth plus folder name is the layer.
 */
const electronPackage = { name: 'electron', message: 'Only src-main/electron/ may import electron.' };
const folder = (name, message) => ({ regex: `^(\\.\\./)+${name}(/|$)`, message });
const noElectronFolder = folder('electron', 'src-main/electron/ is the desktop shell: nothing below it imports it.');
const noShells = [
  folder('ipc', 'The engine does not know its transports: src-main/ipc/ calls the engine, never the other way.'),
  folder('serve', 'The engine does not know browser mode: src-main/serve/ calls the engine, never the other way.'),
  noElectronFolder,
];
// a capability (src-main/engine/<cap>/) reaches another only through its index.ts; core/ is the shared plumbing
const throughIndex = {
  regex: '^\\.\\./(?!core/)[\\w-]+/(?!index$).+',
  message:
    'Import another capability through its index (../<capability>), not its files; export what you need from src-main/engine/<capability>/index.ts.',
};
const layers = {
  'src-main/engine/*.ts': { paths: [electronPackage], patterns: noShells },
  'src-main/engine/*/**': { paths: [electronPackage], patterns: [...noShells, throughIndex] },
  'src-main/adapters/**': {
    paths: [electronPackage],
    patterns: [
      folder('engine', 'Adapters are below the engine: they import no engine code (the engine depends on their interfaces).'),
      ...noShells,
    ],
  },
  'src-main/ipc/**': { paths: [electronPackage], patterns: [noElectronFolder] },
  'src-main/serve/**': { paths: [electronPackage], patterns: [noElectronFolder] },
  'src-main/cli/**': { paths: [electronPackage], patterns: [noElectronFolder] },
  // the contract is pure: zod and itself, no Node, no DOM, no electron
  'src-shared/**': { patterns: [{ regex: '^(?!zod(/|$)|\\.)', message: 'src-shared/ (the contract) imports only zod and itself.' }] },
};

export default tseslint.config(
  {
    ignores: [
      'out/**',
      'dist/**',
      'node_modules/**',
      'test-results/**',
      'playwright-report/**',
      'bench/results/**',
      'test/harness/kube-build/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='only']", message: 'No .only in committed tests.' },
      ],
    },
  },
  ...Object.entries(layers).map(([glob, options]) => ({ files: [glob], rules: { 'no-restricted-imports': ['error', options] } })),
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

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const transportLibraries = ['@grpc/*', 'ws', 'kafkajs', '**/generated/**', '**/transports/**'];

export default tseslint.config(
  { ignores: ['generated/**', 'dist/**', 'node_modules/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The service and the client library: the type-checked rules too (floating promises, awaits on
    // non-promises, unsafe any, enum comparisons, Errors as rejection reasons...).
    files: ['src/**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    // Tests read loosely typed protocol objects (reflection answers, raw frames).
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The core knows no transport: DESIGN.md, "imports point down this list only".
    files: ['src/dispatch/**', 'src/filtering/**', 'src/store/**', 'src/domain/**', 'src/lib/**', 'src/policies/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: transportLibraries, message: 'the core must not import transports or generated code' }] }],
    },
  },
  {
    files: ['src/domain/**', 'src/lib/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: [...transportLibraries, '**/dispatch/**', '**/store/**', '**/filtering/**', '**/config/**'], message: 'domain and lib import nothing above them' }] }],
    },
  },
  {
    // The client library ships alone (auditstream/client): the contract and grpc-js, no server part.
    files: ['src/client/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../app.js', '../main.js', ...['cli', 'config', 'contract', 'dispatch', 'domain', 'filtering', 'lib', 'observability', 'policies', 'security', 'store', 'transports'].map((dir) => `../${dir}/**`)], message: 'the client library imports only generated code and its own modules' }] }],
    },
  },
  {
    // The CLI is a client of the wire contract, like the client library (which it runs on): it may
    // import generated/, the contract's mappings, config, domain types and the store (offline verify,
    // backup, restore), never the running service's parts.
    files: ['src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../app.js', ...['dispatch', 'filtering', 'observability', 'policies', 'security', 'transports'].map((dir) => `../${dir}/**`)], message: 'the CLI talks to the service over its API; it does not import the service' }] }],
    },
  },
  {
    // The live viewer: plain browser ES modules, no build step.
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(['window', 'document', 'location', 'fetch', 'WebSocket', 'URL', 'URLSearchParams', 'Option', 'setTimeout', 'clearTimeout', 'console'].map((name) => [name, 'readonly'])),
    },
  },
);

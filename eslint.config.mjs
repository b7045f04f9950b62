import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import workflowRules from './eslint/no-zod-in-workflows.cjs';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/**
 * The layers, lowest first (docs/architecture.md draws them). A folder imports only from the layers below it; the
 * workflows may name the activities' types (proxyActivities needs them) but never load their code.
 */
const LAYERS = [
  ['core'],
  ['store', 'sim', 'codec', 'server'],
  ['activities'],
  ['workflows'],
  ['worker'],
  ['client'],
  ['bench', 'scripts', 'test'],
];
const above = (folder) => LAYERS.slice(LAYERS.findIndex((layer) => layer.includes(folder)) + 1).flat();
const importsOf = (folders) => folders.flatMap((f) => [`../${f}`, `../${f}/*`, `../../${f}`, `../../${f}/*`]);
const layerRule = (folder, extra = {}) => ({
  files: [`${folder}/**/*.ts`],
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: importsOf(above(folder).filter((f) => !(extra.typesFrom ?? []).includes(f))),
            message: `${folder}/ imports only from the layers below it: move the shared code down (see docs/architecture.md).`,
          },
          ...(extra.typesFrom
            ? [
                {
                  group: importsOf(extra.typesFrom),
                  allowTypeImports: true,
                  message: `${folder}/ may import only types from here.`,
                },
              ]
            : []),
          ...(extra.forbid ? [{ group: importsOf(extra.forbid), message: extra.why }] : []),
        ],
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.evolforge/**', 'test-artifacts/**', '.ci-venv/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed: it must stay deterministic, so no Node built-ins there; and its bundle leaves zod
    // out, so no value of zod reaches it, however deep the import (eslint/no-zod-in-workflows.cjs).
    files: ['workflows/**/*.ts'],
    plugins: { evolforge: workflowRules },
    rules: {
      'evolforge/no-zod-in-workflows': 'error',
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Node built-ins are not deterministic: keep them out of workflows/.',
          })),
        },
      ],
    },
  },
  layerRule('core'),
  ...['store', 'sim', 'codec', 'server'].map((folder) =>
    layerRule(folder, {
      forbid: ['store', 'sim', 'codec', 'server'].filter((f) => f !== folder),
      why: `${folder}/ does not depend on the other folders of its layer.`,
    }),
  ),
  // Activities run on the worker: they send signals with definitions from core/, never import workflow code.
  layerRule('activities'),
  layerRule('workflows', {
    typesFrom: ['activities'],
    forbid: ['store', 'sim', 'codec', 'server'],
    why: 'workflow code is replayed in a sandbox: it reaches files, servers and the simulator only through activities.',
  }),
  layerRule('worker'),
  layerRule('client'),
  {
    // The library API is what the commands print around: it never imports them. It may write files in buckets and
    // Parquet files (locations, parquet-file), which import no command.
    files: ['client/api.ts', 'client/export.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['./*', '!./export', '!./locations', '!./parquet-file'],
              message: 'client/api.ts is the library API: the CLI commands import it, not the other way round.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

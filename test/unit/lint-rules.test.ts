/**
 * The lint rule that keeps zod out of the workflow bundle (eslint/no-zod-in-workflows.mjs), run by ESLint itself on
 * workflow code that imports real modules of core/.
 */
import path from 'node:path';
import { Linter, type ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// The rule is a CommonJS file, as eslint.config.mjs and jest can both load it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const plugin = require('../../eslint/no-zod-in-workflows.cjs') as ESLint.Plugin;

const WORKFLOW_FILE = path.resolve(__dirname, '..', '..', 'workflows', 'lint-probe.ts');

function lint(code: string): string[] {
  const linter = new Linter({ configType: 'flat', cwd: path.resolve(__dirname, '..', '..') });
  const messages = linter.verify(
    code,
    [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser as Linter.Parser },
        plugins: { evolforge: plugin },
        rules: { 'evolforge/no-zod-in-workflows': 'error' },
      },
    ],
    WORKFLOW_FILE,
  );
  return messages.map((m) => m.message);
}

describe('workflow code imports no zod', () => {
  test('a direct value import of zod is refused', () => {
    expect(lint("import { z } from 'zod';\n")).toEqual([expect.stringMatching(/must not import zod/)]);
  });

  test('a value import of a module that imports zod is refused, naming the chain', () => {
    const [message] = lint("import { resolveQuality } from '../core/config';\n");
    expect(message).toMatch(/core\/config\.ts -> zod/);
  });

  test('a chain through a module without zod of its own is followed', () => {
    const [message] = lint("import { resolveDatasetRunSettings } from '../core/run-settings';\n");
    expect(message).toMatch(/core\/run-settings\.ts -> core\/[a-z-]+\.ts -> zod/);
  });

  test('types from such a module, and values of modules without zod, are fine', () => {
    expect(
      lint(
        [
          "import type { QualitySettings } from '../core/settings-schemas';",
          "import { type DatasetRunConfig } from '../core/settings-schemas';",
          "import { budgetHoldOf } from '../core/llm-failures';",
          "import { planOperations } from '../core/plan';",
          '',
        ].join('\n'),
      ),
    ).toEqual([]);
  });
});

/** docs/versioning.md keeps one row per patch in workflow code: a patch without its row fails here. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** The patch ids `patched('…')` and `deprecatePatch('…')` name in the files of a folder. */
function patchIds(dir: string): string[] {
  const ids: string[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(/\b(?:patched|deprecatePatch)\(\s*['"`]([^'"`]+)['"`]/g)) ids.push(m[1]);
  }
  return ids;
}

/** The patch ids of the ledger's live table (its first column). */
function liveRows(): string[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'versioning.md'), 'utf8');
  const live = doc.split('## Ledger')[1].split('Compatibility kept outside workflow code')[0];
  return [...live.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1]);
}

describe('the versioning ledger', () => {
  test('every patch in workflows/ has its row, and every row a patch', () => {
    expect([...new Set(patchIds(path.join(ROOT, 'workflows')))].sort()).toEqual(liveRows().sort());
  });

  test('the check sees a patch: a folder with one and a ledger without it differ', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-ledger-'));
    try {
      fs.writeFileSync(path.join(dir, 'w.ts'), "if (patched('new-step')) { await step(); }\n");
      expect(patchIds(dir)).toEqual(['new-step']);
      expect(liveRows()).not.toContain('new-step');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

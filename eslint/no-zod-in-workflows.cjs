/**
 * A lint rule for workflows/: no value import of zod, or of a module that imports it as a value, however deep. The
 * workflow bundle leaves zod out (worker/workflow-source.ts), so such an import would fail every workflow task at run
 * time; this rule fails it at `npm run lint` instead, naming the chain of imports that reaches zod.
 */
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

/** `import ... from 'x'` and `export {...} from 'x'`; `import type` and all-type lists bring nothing. */
const IMPORT = /^\s*import\s+(type\s+)?([^;'"]*?)\s*from\s*['"]([^'"]+)['"]/gm;
const EXPORT = /^\s*export\s+(type\s+)?(\{[^}]*\}|\*(?:\s+as\s+\w+)?)\s*from\s*['"]([^'"]+)['"]/gm;
const SIDE_EFFECT = /^\s*import\s+['"]([^'"]+)['"]/gm;

function isValueImport(typeKeyword, clause) {
  if (typeKeyword) return false;
  const braces = /^\{([\s\S]*)\}$/.exec(clause.trim());
  if (!braces) return true; // a default or namespace import, or `export *`
  const names = braces[1]
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return names.length === 0 || names.some((n) => !n.startsWith('type '));
}

/** The value imports of a module's text: their specifiers. */
function valueImports(text) {
  const found = [];
  for (const m of [...text.matchAll(IMPORT), ...text.matchAll(EXPORT)]) if (isValueImport(m[1], m[2])) found.push(m[3]);
  for (const m of text.matchAll(SIDE_EFFECT)) found.push(m[1]);
  return found;
}

function resolve(fromFile, specifier) {
  const base = path.resolve(path.dirname(fromFile), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && candidate.endsWith('.ts')) return candidate;
  }
  return undefined;
}

const chains = new Map();

/** The chain of files by which `file` reaches zod as a value, or null. */
function chainToZod(file, visiting = new Set()) {
  if (chains.has(file)) return chains.get(file);
  if (visiting.has(file)) return null;
  visiting.add(file);
  let chain = null;
  for (const specifier of valueImports(readFileSync(file, 'utf8'))) {
    if (specifier === 'zod' || specifier.startsWith('zod/')) {
      chain = [file];
      break;
    }
    if (!specifier.startsWith('.')) continue;
    const target = resolve(file, specifier);
    const rest = target && chainToZod(target, visiting);
    if (rest) {
      chain = [file, ...rest];
      break;
    }
  }
  visiting.delete(file);
  chains.set(file, chain);
  return chain;
}

module.exports = {
  rules: {
    'no-zod-in-workflows': {
      meta: {
        type: 'problem',
        docs: { description: 'workflow code imports no value of zod, directly or through another module' },
        schema: [],
      },
      create(context) {
        const file = context.filename;
        const check = (node) => {
          if (node.importKind === 'type' || node.exportKind === 'type' || !node.source) return;
          const specifier = node.source.value;
          const named = node.specifiers ?? [];
          if (named.length > 0 && named.every((s) => s.importKind === 'type' || s.exportKind === 'type')) return;
          if (specifier === 'zod' || specifier.startsWith('zod/')) {
            context.report({ node, message: 'workflow code must not import zod: take its types with `import type`.' });
            return;
          }
          if (!specifier.startsWith('.')) return;
          const target = resolve(file, specifier);
          const chain = target && chainToZod(target);
          if (chain) {
            const cwd = context.cwd;
            context.report({
              node,
              message: `this brings zod into the workflow bundle (${chain.map((f) => path.relative(cwd, f)).join(' -> ')} -> zod), where it is left out and every workflow task would fail: import only types from it (\`import type\`), or move the values workflows need to a module without zod.`,
            });
          }
        };
        return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
      },
    },
  },
};

/**
 * Resolves `--method`: a built-in method set by name, or a JSON/YAML file of the user's own
 * operations. File errors name the file, the line when it is known, the operation and the field.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import YAML, { LineCounter } from 'yaml';
import { z } from 'zod';
import { builtInOperations, CUSTOM_OPERATION_SYSTEM, isMethodName, METHOD_NAMES } from '../core/methods';
import { INSTRUCTION_PLACEHOLDER } from '../core/chat';
import type { Operation, RoundRange } from '../core/operations';
import { UserError } from '../core/validation';

export { METHOD_NAMES } from '../core/methods';

export interface ResolvedMethod {
  name: string;
  operations: Operation[];
  /** The evolver's sampling the method was made for (a learned method's); the role's own settings when absent. */
  sampling?: MethodSampling;
}

const OPERATION_FIELDS = ['id', 'name', 'template', 'weight', 'system', 'rounds'];

/** `2`, `"2"`, `"1-2"` or `"3-"` (round 3 and every later one). */
const RoundsSchema = z
  .union([z.number().int().positive(), z.string().trim()], {
    error: 'must be a round or a range of rounds, such as 2, "1-2" or "3-"',
  })
  .transform((value, ctx): RoundRange => {
    const match =
      typeof value === 'number' ? [String(value), String(value), '', String(value)] : /^(\d+)(-)?(\d+)?$/.exec(value);
    const from = match ? Number(match[1]) : NaN;
    const to = match ? (match[3] ? Number(match[3]) : match[2] ? undefined : from) : NaN;
    if (!match || from < 1 || (to !== undefined && to < from)) {
      ctx.addIssue({ code: 'custom', message: 'must be a round or a range of rounds, such as 2, "1-2" or "3-"' });
      return z.NEVER;
    }
    return to === undefined ? { from } : { from, to };
  });

/** The evolver's sampling a method carries (`evol auto export-method` writes the one it was learned with). */
const MethodSamplingSchema = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    topP: z.number().gt(0).max(1).optional(),
    maxTokens: z.number().int().positive().optional(),
  })
  .strict();
export type MethodSampling = z.infer<typeof MethodSamplingSchema>;

function text() {
  return z.string({ error: (issue) => (issue.input === undefined ? 'is missing' : 'must be text') });
}

const MethodOperationSchema = z
  .object({
    id: text()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, dots, dashes or underscores, e.g. "make-formal"')
      .optional(),
    name: text().trim().min(1, 'must not be empty'),
    template: text()
      .refine((t) => t.trim().length > 0, 'must not be empty')
      .refine(
        (t) => t.trim().length === 0 || t.includes(INSTRUCTION_PLACEHOLDER),
        `has no ${INSTRUCTION_PLACEHOLDER} placeholder: put ${INSTRUCTION_PLACEHOLDER} where the instruction should go`,
      ),
    weight: z
      .number({ error: 'must be a number' })
      .positive('must be a positive number (it is a relative chance of being picked)')
      .optional(),
    system: text().trim().min(1, 'must not be empty (leave it out to use the default system message)').optional(),
    rounds: RoundsSchema.optional(),
  })
  .strict();

type MethodOperation = z.infer<typeof MethodOperationSchema>;

/** A readable id from a name: `Make it formal!` gives `make-it-formal`; `custom-<n>` when nothing is left. */
export function operationSlug(name: string, index: number): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug || `custom-${index + 1}`;
}

function operationId(op: MethodOperation, index: number): string {
  return op.id ?? operationSlug(op.name, index);
}

/** Names and ids identify an operation in lineage and reports, so each must be unique within the method. */
function checkUnique(operations: MethodOperation[], ctx: z.RefinementCtx): void {
  const names = new Map<string, number>();
  const ids = new Map<string, number>();
  operations.forEach((op, index) => {
    const sameName = names.get(op.name.toLowerCase());
    if (sameName !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [index, 'name'],
        message: `"${op.name}" is already the name of operation ${sameName + 1}; names must be unique`,
      });
      return;
    }
    names.set(op.name.toLowerCase(), index);
    const id = operationId(op, index);
    const sameId = ids.get(id);
    if (sameId !== undefined) {
      const fix = op.id ? 'choose another id' : 'give one of them an "id"';
      ctx.addIssue({
        code: 'custom',
        path: [index, op.id ? 'id' : 'name'],
        message: `gives the id "${id}", which operation ${sameId + 1} already has; ${fix}`,
      });
    }
    ids.set(id, index);
  });
}

const MethodFileSchema = z
  .object({
    name: text().trim().min(1, 'must not be empty').optional(),
    operations: z
      .array(MethodOperationSchema, {
        error: (issue) => (issue.input === undefined ? 'is missing' : 'must be a list of operations'),
      })
      .min(1, 'is empty: give at least one operation')
      .superRefine(checkUnique),
    sampling: MethodSamplingSchema.optional(),
  })
  .strict();

/** What a parsed file gives: its data, and the line where the value at a path starts (YAML and JSON alike). */
interface ParsedFile {
  data: unknown;
  lineOf(at: readonly PropertyKey[]): number | undefined;
}

function fileError(file: string, line: number | undefined, detail: string): UserError {
  return new UserError(`${file}${line === undefined ? '' : `:${line}`}: ${detail}`);
}

/** The parsed YAML document and where each of its values starts. JSON is YAML too, so this serves both. */
function yamlDocument(source: string): { doc: YAML.Document; lineOf: ParsedFile['lineOf'] } {
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(source, { lineCounter, prettyErrors: true });
  const lineOf = (at: readonly PropertyKey[]) => {
    for (let depth = at.length; depth >= 0; depth--) {
      const node = doc.getIn(at.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return { doc, lineOf };
}

function lineAtOffset(source: string, offset: number): number {
  return source.slice(0, offset).split('\n').length;
}

function parseJson(file: string, source: string): ParsedFile {
  let data: unknown;
  try {
    data = JSON.parse(source);
  } catch (err) {
    const message = (err as Error).message;
    const position = /at position (\d+)/.exec(message);
    const line = position ? lineAtOffset(source, Number(position[1])) : undefined;
    throw fileError(file, line, `invalid JSON: ${message}`);
  }
  return { data, lineOf: yamlDocument(source).lineOf };
}

function parseYaml(file: string, source: string): ParsedFile {
  const { doc, lineOf } = yamlDocument(source);
  const [error] = doc.errors;
  if (error) throw fileError(file, error.linePos?.[0].line, `invalid YAML: ${error.message.split('\n')[0]}`);
  return { data: doc.toJS(), lineOf };
}

async function readMethodFile(spec: string, file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(
        `method "${spec}" is neither a built-in method set (${METHOD_NAMES.join(', ')}) nor a file: ${file} does not exist`,
      );
    }
    throw new UserError(`cannot read the method file ${file}: ${(err as Error).message}`);
  }
}

function operationLabel(data: unknown, index: number): string {
  const operations = (data as { operations?: unknown }).operations;
  const name = Array.isArray(operations) ? (operations[index] as { name?: unknown } | undefined)?.name : undefined;
  return typeof name === 'string' && name.trim()
    ? `operation ${index + 1} ("${name.trim()}")`
    : `operation ${index + 1}`;
}

function issueDetail(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'unrecognized_keys') return issue.message;
  const keys = issue.keys.map((k) => `"${k}"`).join(', ');
  return `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}`;
}

/** "operation 2 ("Formal"), field "template": has no {instruction} placeholder ..." */
function describeIssue(issue: z.core.$ZodIssue, data: unknown, bareList: boolean): string {
  const [top, index, field] = issue.path;
  if (top === 'operations' && typeof index === 'number') {
    const where = operationLabel(data, index);
    if (field !== undefined) return `${where}, field "${String(field)}": ${issueDetail(issue)}`;
    const known = issue.code === 'unrecognized_keys' ? ` (known fields: ${OPERATION_FIELDS.join(', ')})` : '';
    return `${where}: ${issueDetail(issue)}${known}`;
  }
  if (top === 'operations') return `${bareList ? 'the list of operations' : '"operations"'} ${issueDetail(issue)}`;
  if (issue.code === 'unrecognized_keys') return `${issueDetail(issue)} (known fields: name, operations, sampling)`;
  return `field "${String(top)}": ${issueDetail(issue)}`;
}

/** Every problem on its own line, each with the file and, when known, the line. */
function validate(file: string, parsed: ParsedFile, bareList: boolean): z.infer<typeof MethodFileSchema> {
  const data = bareList ? { operations: parsed.data } : parsed.data;
  const result = MethodFileSchema.safeParse(data);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    // An unknown field is best shown at its own line, not at the start of the object that holds it.
    const at = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
    const line = parsed.lineOf(bareList ? at.slice(1) : at);
    return fileError(file, line, describeIssue(issue, data, bareList)).message;
  });
  throw new UserError(lines.join('\n'));
}

function toOperation(op: MethodOperation, index: number): Operation {
  return {
    id: operationId(op, index),
    kind: 'custom',
    weight: op.weight ?? 1,
    system: op.system ?? CUSTOM_OPERATION_SYSTEM,
    template: op.template,
    ...(op.rounds ? { rounds: op.rounds } : {}),
  };
}

async function loadMethodFile(spec: string, file: string): Promise<ResolvedMethod> {
  const source = await readMethodFile(spec, file);
  const parsed = /\.json$/i.test(file) ? parseJson(file, source) : parseYaml(file, source);
  const expected = 'expected {"name": ..., "operations": [...]} or a list of operations';
  if (parsed.data === null || parsed.data === undefined)
    throw fileError(file, undefined, `the file is empty; ${expected}`);
  if (typeof parsed.data !== 'object') throw fileError(file, 1, expected);
  const method = validate(file, parsed, Array.isArray(parsed.data));
  return {
    name: method.name ?? path.basename(file, path.extname(file)),
    operations: method.operations.map(toOperation),
    ...(method.sampling ? { sampling: method.sampling } : {}),
  };
}

/** `general`, `code` or `math` give a built-in set; anything else is the path of a method file. */
export async function resolveMethod(spec: string, cwd = process.cwd()): Promise<ResolvedMethod> {
  if (isMethodName(spec)) return { name: spec, operations: builtInOperations(spec) };
  return loadMethodFile(spec, path.resolve(cwd, spec));
}

export { withMethodSampling } from '../core/run-settings';

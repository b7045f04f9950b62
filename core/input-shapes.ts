/**
 * The row shapes `evol run --input` accepts and how each becomes a seed. Pure: no I/O.
 *
 * A row's shape is picked by the field that marks it (`instances`, `instruction`, `conversations`,
 * `messages`, `prompt`, `question`, `problem`, `text`, in that order; names match in any case when only one field
 * has the name), and the row is then checked against that shape alone, so a broken row is reported against the
 * shape it was meant to have rather than slipping into another one. The text an instruction refers to, in a field
 * of its own (`INPUT_FIELDS`), is appended to it. Other fields are not read, but each row says which of them held
 * text, so that the reader can tell the user what was left out. Fields named by the user (`--instruction-field`,
 * `--input-field`, `--id-field`) replace the guessing.
 */
import { z } from 'zod';
import type { SeedRecord } from './run';
import { describeIssues } from './validation';

export type NormalizedSeed = Omit<SeedRecord, 'source' | 'id'> & { id?: string };
export type NormalizedRow = NormalizedSeedRow | RowFailure;
export interface NormalizedSeedRow {
  ok: true;
  seed: NormalizedSeed;
  /** Fields of the row that hold text and are in no part of the seed, as the row spells them; absent when none. */
  unusedFields?: string[];
}
type RowFailure = { ok: false; reason: string; field?: string };

/**
 * Fields that hold the text an instruction refers to, appended to it as its input in this order: Alpaca's `input`,
 * Dolly's and SQuAD's `context`, BoolQ's `passage`, XSum's `document`, CNN/DailyMail's and RACE's `article`, and
 * `paragraph` and `content`. Not `text` (Alpaca copies on the Hugging Face Hub hold the whole templated example
 * there, answer included; alone in a row it is the instruction), `source` (Tulu 3 and OpenHermes name the dataset a
 * row came from there), nor `reference` (MT-Bench's reference answers): `--input-field` takes those.
 */
export const INPUT_FIELDS = ['input', 'context', 'passage', 'document', 'article', 'paragraph', 'content'] as const;

/** The smallest valid row, for messages that show what a row looks like. */
export const ROW_EXAMPLE = '{"instruction": "..."}';
export const MAX_ID_LENGTH = 128;

const FIX_ROW = 'Fix or remove the row.';
const NON_EMPTY = 'expected a non-empty string';
const SHAPES_EXPECTED =
  'expected one of {"instruction", "input"?, "output"?} (Alpaca), ' +
  '{"instruction", "instances": [{"input", "output"}]} (self-instruct), ' +
  '{"conversations": [{"from", "value"}]} (ShareGPT), {"messages": [{"role", "content"}]} (chat), ' +
  '{"prompt"}, {"question", "answer"?} (GSM8K), {"problem", "solution"?} (MATH), {"text"}, or a JSON string; ' +
  'or name the field with --instruction-field';

const requiredText = () => z.string({ error: NON_EMPTY }).trim().min(1, { error: NON_EMPTY });
const optionalText = z.string({ error: 'expected a string' }).nullish();

export const AlpacaRowSchema = z.object({ instruction: requiredText(), input: optionalText, output: optionalText });

export const SelfInstructRowSchema = z.object({
  instruction: requiredText(),
  instances: z.array(
    z.object({ input: optionalText, output: optionalText }, { error: 'expected an {"input", "output"} object' }),
    { error: 'expected an array of {"input", "output"} objects' },
  ),
});

export const ShareGptRowSchema = z.object({
  conversations: z.array(
    z.object(
      { from: z.string({ error: 'expected a string' }), value: z.string({ error: 'expected a string' }) },
      { error: 'expected a {"from", "value"} turn' },
    ),
    { error: 'expected an array of {"from", "value"} turns' },
  ),
});

/** Message content as OpenAI-style APIs carry it: a string, or a list of parts of which the text ones count. */
const ChatContentSchema = z
  .union([z.string(), z.array(z.object({ type: z.string(), text: z.string().optional() })), z.null()], {
    error: 'expected a string or an array of {"type": "text", "text"} parts',
  })
  .optional();

export const ChatRowSchema = z.object({
  messages: z.array(
    z.object(
      { role: z.string({ error: 'expected a string' }), content: ChatContentSchema },
      { error: 'expected a {"role", "content"} message' },
    ),
    { error: 'expected an array of {"role", "content"} messages' },
  ),
});

export const PromptRowSchema = z.object({ prompt: requiredText() });

export const TextRowSchema = z.object({ text: requiredText() });

export const QuestionRowSchema = z.object({ question: requiredText(), answer: optionalText });

export const ProblemRowSchema = z.object({ problem: requiredText(), solution: optionalText });

export const BareStringRowSchema = requiredText();

const CONTROL_CHARACTER = /\p{Cc}/u;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Ids end up in workflow ids and file names, hence the limits beyond "string or number". */
export const RowIdSchema = z
  .union([z.string().trim().min(1), z.number()], { error: 'expected a non-empty string or a number' })
  .transform(String)
  .refine((id) => id.length <= MAX_ID_LENGTH, { error: `expected at most ${MAX_ID_LENGTH} characters` })
  .refine((id) => !CONTROL_CHARACTER.test(id) && !LONE_SURROGATE.test(id), {
    error: 'expected printable text (no control characters or broken Unicode)',
  })
  .nullish();

type Row = Record<string, unknown>;

interface RowShape {
  marker: string;
  /** The fields it reads besides the input fields (`INPUT_FIELDS`), in lower case. */
  fields: readonly string[];
  read(row: Row): NormalizedRow;
}

const ROW_SHAPES: readonly RowShape[] = [
  { marker: 'instances', fields: ['instances', 'instruction'], read: readSelfInstruct },
  { marker: 'instruction', fields: ['instruction', 'output'], read: readAlpaca },
  { marker: 'conversations', fields: ['conversations'], read: readShareGpt },
  { marker: 'messages', fields: ['messages'], read: readChat },
  { marker: 'prompt', fields: ['prompt'], read: readPrompt },
  { marker: 'question', fields: ['question', 'answer'], read: readQuestion },
  { marker: 'problem', fields: ['problem', 'solution'], read: readProblem },
  // Last: beside any other marker, `text` is more often a rendering of the whole row than the instruction.
  { marker: 'text', fields: ['text'], read: readText },
];

/** Every field name a shape reads: matched in any case ("Instruction", "QUESTION"). */
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  'id',
  ...ROW_SHAPES.flatMap((shape) => shape.fields),
  ...INPUT_FIELDS,
]);

/** Which fields of a row to read, when the user names them instead of letting the shape be guessed. */
export interface FieldChoice {
  /** The field holding the instruction. */
  instruction?: string;
  /** A field appended to the instruction as its input. */
  input?: string;
  /** The field holding the row's id. */
  id?: string;
}

/**
 * Turns one parsed row into a seed, with the row's own id when it has one (the reader, which knows
 * where the row sits, names the others). Never throws for any JSON value.
 */
export function normalizeRow(value: unknown, fields: FieldChoice = {}): NormalizedRow {
  if (typeof value === 'string')
    return fields.instruction ? namedFieldMissing(fields.instruction) : readBareString(value);
  if (!isRow(value)) {
    return failure(
      `expected a JSON object or a string, got ${kindOf(value)}. Give one row per line, such as ${ROW_EXAMPLE}.`,
    );
  }
  const view = caseInsensitiveView(value, fields);
  if (!view.ok) return view;
  const { row, original } = view;
  const idField = fields.id ?? original.id ?? 'id';
  const id = RowIdSchema.safeParse(fields.id ? value[fields.id] : row.id);
  if (!id.success) return failure(`${id.error.issues[0].message}. ${FIX_ROW}`, idField);
  const instruction = fields.instruction
    ? readNamedInstruction(value, fields.instruction)
    : readShape(row, original, value);
  if (!instruction.ok) return instruction;
  const input =
    fields.input === undefined ? recognisedInputs(row, original, instruction.fields) : namedInput(value, fields.input);
  if (!input.ok) return input;
  const ownId = id.data ?? undefined;
  const seed: NormalizedSeed = {
    ...instruction.seed,
    text: withInputs(instruction.seed.text, input.texts),
    ...(ownId === undefined ? {} : { id: ownId }),
  };
  const read = [idField, ...instruction.fields, ...input.fields];
  const unusedFields = Object.keys(value).filter((key) => isText(value[key]) && !read.includes(key));
  return unusedFields.length ? { ok: true, seed, unusedFields } : { ok: true, seed };
}

/** What a row's instruction was read from: the seed so far, and the fields it took, as the row spells them. */
type InstructionReading = { ok: true; seed: NormalizedSeed; fields: string[] } | RowFailure;

/** The input appended to the instruction, and the fields it came from. */
type InputReading = { ok: true; texts: string[]; fields: string[] } | RowFailure;

function readShape(row: Row, original: Record<string, string>, value: Row): InstructionReading {
  const shape = ROW_SHAPES.find((candidate) => Object.hasOwn(row, candidate.marker));
  if (!shape) return failure(`no recognisable row shape (${fieldList(value)}): ${SHAPES_EXPECTED}. ${FIX_ROW}`);
  const result = withOriginalField(shape.read(row), original);
  if (!result.ok) return result;
  return { ok: true, seed: result.seed, fields: shape.fields.flatMap((field) => original[field] ?? []) };
}

/** The input fields the row has, in the order of `INPUT_FIELDS`, but not one the instruction was read from. */
function recognisedInputs(row: Row, original: Record<string, string>, taken: readonly string[]): InputReading {
  const reading: InputReading = { ok: true, texts: [], fields: [] };
  for (const field of INPUT_FIELDS) {
    const text = row[field];
    if (typeof text !== 'string' || taken.includes(original[field])) continue;
    reading.texts.push(text);
    reading.fields.push(original[field]);
  }
  return reading;
}

/** `--input-field NAME`: that field's text is the input, instead of the input fields recognised by name. */
function namedInput(value: Row, field: string): InputReading {
  const raw = Object.hasOwn(value, field) ? value[field] : undefined;
  if (raw === undefined || raw === null) return { ok: true, texts: [], fields: [] };
  const input = textOf(raw);
  if (input === undefined) return failure(`expected a string (--input-field). ${FIX_ROW}`, field);
  return { ok: true, texts: [input], fields: [field] };
}

/** Text that could be part of a seed: numbers, booleans, lists and objects are not. */
function isText(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== '';
}

/**
 * The row with the known field names in lower case, and the names they had. Two fields that differ only in case
 * ("instruction" and "Instruction") are ambiguous: the user says which to use by naming it (--instruction-field,
 * --input-field, --id-field).
 */
function caseInsensitiveView(
  value: Row,
  fields: FieldChoice,
): { ok: true; row: Row; original: Record<string, string> } | RowFailure {
  const row: Row = {};
  const original: Record<string, string> = {};
  for (const key of Object.keys(value)) {
    const lower = key.toLowerCase();
    if (!KNOWN_FIELDS.has(lower) || isNamed(key, fields)) continue;
    if (original[lower] !== undefined) {
      return failure(
        `fields "${original[lower]}" and "${key}" differ only in case, so it is unclear which to read: name it with --instruction-field (or --input-field, --id-field). ${FIX_ROW}`,
        key,
      );
    }
    original[lower] = key;
    row[lower] = value[key];
  }
  return { ok: true, row, original };
}

/** A field the user named is read by that name alone, whatever the names of the others. */
function isNamed(key: string, fields: FieldChoice): boolean {
  return key === fields.instruction || key === fields.input || key === fields.id;
}

/** Error paths name the field as the file spells it. */
function withOriginalField(result: NormalizedRow, original: Record<string, string>): NormalizedRow {
  if (result.ok || result.field === undefined) return result;
  const [head, ...rest] = result.field.split('.');
  const field = [original[head] ?? head, ...rest].join('.');
  return { ...result, field };
}

function namedFieldMissing(field: string): RowFailure {
  return failure(
    `the row has no field "${field}" (--instruction-field). Fix or remove the row, or name another field.`,
    field,
  );
}

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

/** `--instruction-field NAME`: the instruction is that field's text, whatever the shape; no answer is read. */
function readNamedInstruction(value: Row, name: string): InstructionReading {
  if (!Object.hasOwn(value, name)) return namedFieldMissing(name);
  const instruction = textOf(value[name])?.trim();
  if (!instruction) return failure(`${NON_EMPTY} (--instruction-field). ${FIX_ROW}`, name);
  return { ok: true, seed: { text: instruction }, fields: [name] };
}

/** What two seeds must share to count as the same instruction: case and spacing do not matter. */
export function duplicateKey(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

function readBareString(value: string): NormalizedRow {
  const parsed = BareStringRowSchema.safeParse(value);
  return parsed.success ? seedOf(parsed.data) : failure(`${NON_EMPTY}. ${FIX_ROW}`);
}

/** Its `input` is checked here and appended with the other input fields. */
function readAlpaca(row: Row): NormalizedRow {
  const parsed = AlpacaRowSchema.safeParse(row);
  if (!parsed.success) return fromIssues(parsed.error.issues);
  return seedOf(parsed.data.instruction, parsed.data.output);
}

function readSelfInstruct(row: Row): NormalizedRow {
  const parsed = SelfInstructRowSchema.safeParse(row);
  if (!parsed.success) return fromIssues(parsed.error.issues);
  const first = parsed.data.instances[0];
  return seedOf(withInputs(parsed.data.instruction, [first?.input]), first?.output);
}

function readQuestion(row: Row): NormalizedRow {
  const parsed = QuestionRowSchema.safeParse(row);
  return parsed.success ? seedOf(parsed.data.question, parsed.data.answer) : fromIssues(parsed.error.issues);
}

function readProblem(row: Row): NormalizedRow {
  const parsed = ProblemRowSchema.safeParse(row);
  return parsed.success ? seedOf(parsed.data.problem, parsed.data.solution) : fromIssues(parsed.error.issues);
}

function readPrompt(row: Row): NormalizedRow {
  const parsed = PromptRowSchema.safeParse(row);
  return parsed.success ? seedOf(parsed.data.prompt) : fromIssues(parsed.error.issues);
}

/** A row whose only recognised field is `text` (many Hub datasets): a plain instruction, like `prompt`. */
function readText(row: Row): NormalizedRow {
  const parsed = TextRowSchema.safeParse(row);
  return parsed.success ? seedOf(parsed.data.text) : fromIssues(parsed.error.issues);
}

function readShareGpt(row: Row): NormalizedRow {
  const parsed = ShareGptRowSchema.safeParse(row);
  if (!parsed.success) return fromIssues(parsed.error.issues);
  const turns = parsed.data.conversations.map((turn) => ({ speaker: speakerOf(turn.from), text: turn.value }));
  return firstExchange(turns, { list: 'conversations', text: 'value', user: '{"from": "human", "value": "..."}' });
}

function readChat(row: Row): NormalizedRow {
  const parsed = ChatRowSchema.safeParse(row);
  if (!parsed.success) return fromIssues(parsed.error.issues);
  const turns = parsed.data.messages.map((message) => ({
    speaker: speakerOf(message.role),
    text: contentText(message.content),
  }));
  return firstExchange(turns, { list: 'messages', text: 'content', user: '{"role": "user", "content": "..."}' });
}

type Speaker = 'user' | 'assistant' | 'other';

function speakerOf(name: string): Speaker {
  if (name === 'human' || name === 'user') return 'user';
  if (name === 'gpt' || name === 'assistant') return 'assistant';
  return 'other';
}

function contentText(content: z.infer<typeof ChatContentSchema>): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content
    .filter((part) => part.type === 'text' && part.text !== undefined)
    .map((part) => part.text)
    .join('\n');
}

/** The first user turn is the seed; the assistant turn after it, if any, is its answer. */
function firstExchange(
  turns: ReadonlyArray<{ speaker: Speaker; text: string }>,
  names: { list: string; text: string; user: string },
): NormalizedRow {
  const userIndex = turns.findIndex((turn) => turn.speaker === 'user');
  if (userIndex < 0) {
    return failure(`no user turn: add one such as ${names.user}, or remove the row.`, names.list);
  }
  const instruction = turns[userIndex].text.trim();
  if (!instruction) return failure(`${NON_EMPTY}. ${FIX_ROW}`, `${names.list}.${userIndex}.${names.text}`);
  const answer = turns.slice(userIndex + 1).find((turn) => turn.speaker === 'assistant');
  return seedOf(instruction, answer?.text);
}

/** The instruction, then each input that is not blank, a blank line between them. */
function withInputs(instruction: string, inputs: ReadonlyArray<string | null | undefined>): string {
  let text = instruction;
  for (const input of inputs) {
    const trimmed = input?.trim();
    if (trimmed) text += `\n\n${trimmed}`;
  }
  return text;
}

function seedOf(text: string, output?: string | null): NormalizedRow {
  return { ok: true, seed: output?.trim() ? { text, output } : { text } };
}

function failure(reason: string, field?: string): RowFailure {
  return field === undefined ? { ok: false, reason } : { ok: false, reason, field };
}

/** The first issue names the field; any others follow in the reason so one pass fixes the row. */
function fromIssues(issues: readonly z.core.$ZodIssue[]): RowFailure {
  const [first, ...others] = issues;
  const also = others.length ? `; also ${describeIssues(others)}` : '';
  const field = first.path.length ? first.path.map(String).join('.') : undefined;
  return failure(`${first.message}${also}. ${FIX_ROW}`, field);
}

function isRow(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Names the row's fields, shortened: a row can hold anything, and messages must stay one readable line. */
function fieldList(row: Row): string {
  const keys = Object.keys(row);
  if (!keys.length) return 'it has no fields';
  const shown = keys.slice(0, 5).map((key) => JSON.stringify(key.length > 30 ? `${key.slice(0, 30)}…` : key));
  const more = keys.length > shown.length ? ` and ${keys.length - shown.length} more` : '';
  return `fields ${shown.join(', ')}${more}`;
}

/**
 * Reads the seed file of `evol run --input`: JSONL streamed line by line, a JSON document (an array of rows,
 * or `{"data": [...]}`) read whole, CSV or TSV (a header row, then one row per record), or Parquet (Hugging Face
 * datasets). A bad row becomes a problem naming file, line (or row) and field and the other rows are kept; only an
 * unusable file throws, always as a UserError.
 */
import { constants as bufferConstants, isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { duplicateKey, normalizeRow, ROW_EXAMPLE, type FieldChoice, type NormalizedRow } from '../core/input-shapes';
import { hash32 } from '../core/prng';
import { UserError } from '../core/validation';
import type { SeedRecord } from '../core/run';
import { isS3Url, withLocalCopy } from './locations';
import { readCsvRows, readParquetRows, tabularFormatOf, type TabularFormat } from './tabular-input';

export interface InputProblem {
  file: string;
  /** 1-based; for a JSON document, the line where the row starts; for Parquet, the row number. */
  line: number;
  /** Set for Parquet, whose rows have numbers but no lines. */
  unit?: 'row';
  field?: string;
  reason: string;
}

export interface InputDuplicate {
  file: string;
  line: number;
  duplicateOfLine: number;
  id: string;
}

/** A field that held text in some rows and went into no seed (not the instruction, its input, answer or id). */
export interface UnusedField {
  /** As the rows spell it. */
  field: string;
  /** Rows read into a seed (or a duplicate of one) that had text in it. */
  rows: number;
}

export interface InputReport {
  seeds: SeedRecord[];
  invalid: InputProblem[];
  duplicates: InputDuplicate[];
  /** Every row seen, blank lines aside: seeds, invalid rows and duplicates. */
  totalRows: number;
  /** In the order first seen. */
  unusedFields: UnusedField[];
  format: 'jsonl' | 'json' | TabularFormat;
}

export interface ReadSeedFileOptions {
  /** Refuse the whole file if any row is invalid. */
  strict?: boolean;
  /** Longer lines are reported and skipped unread. */
  maxLineBytes?: number;
  /** Fields named by the user (`--instruction-field`, `--input-field`, `--id-field`) instead of the guessed shape. */
  fields?: FieldChoice;
}

export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

const SNIFF_BYTES = 8192;
const PROBLEMS_SHOWN = 5;
const FIELD_NAMES_SHOWN = 12;
const ADD_ROWS = `add one JSON object per line, such as ${ROW_EXAMPLE}`;
const NOT_UTF8 = 'not valid UTF-8; skipped. Save the file as UTF-8.';

/** Reads a seed file: a path, or an `s3://bucket/key` object (fetched to a temporary copy first). */
export async function readSeedFile(file: string, options: ReadSeedFileOptions = {}): Promise<InputReport> {
  if (isS3Url(file)) return withLocalCopy(file, (copy) => readSeedFileAt(file, copy, file, options));
  return readSeedFileAt(file, path.resolve(file), path.resolve(file), options);
}

/** `file` as the user named it (for messages), `absolute` where its bytes are, `source` what the seeds record. */
async function readSeedFileAt(
  file: string,
  absolute: string,
  source: string,
  options: ReadSeedFileOptions,
): Promise<InputReport> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  try {
    const collector = new SeedCollector(file, source, options.fields ?? {});
    const tabular = await tabularFormatOf(file, absolute);
    if (tabular === 'parquet') {
      await checkExists(file, absolute);
      await readParquetRows(file, absolute, (row, number) => collector.addRowNumbered(row, number));
      return checkedReport(collector, tabular, options.strict ?? false);
    }
    await checkSeedFile(file, absolute);
    if (tabular) {
      await readCsvRows(file, absolute, tabular, {
        row: (row, line) => {
          collector.countRow();
          collector.addValue(row, line, `line-${line}`);
        },
        problem: (line, reason) => {
          collector.countRow();
          collector.problem(line, reason);
        },
      });
      return checkedReport(collector, tabular, options.strict ?? false);
    }
    const format = await detectFormat(file, absolute, maxLineBytes);
    if (format === 'json') await readJsonDocument(collector, absolute);
    else await readJsonLines(collector, absolute, maxLineBytes);
    return checkedReport(collector, format, options.strict ?? false);
  } catch (err) {
    throw asUserError(err, file);
  }
}

/** `seeds.jsonl:12: field "instruction": expected a non-empty string. Fix or remove the row.` (Parquet: `data.parquet row 12: ...`) */
export function formatProblem(problem: InputProblem): string {
  const field = problem.field === undefined ? '' : `field "${problem.field}": `;
  const where = problem.unit === 'row' ? `${problem.file} row ${problem.line}` : `${problem.file}:${problem.line}`;
  return `${where}: ${field}${problem.reason}`;
}

/** Collects rows into seeds, problems and duplicates, in file order. */
class SeedCollector {
  private readonly seeds: SeedRecord[] = [];
  private readonly invalid: InputProblem[] = [];
  private readonly duplicates: InputDuplicate[] = [];
  private readonly lineOfId = new Map<string, number>();
  /** Seed indices by the hash of their duplicate key: the keys themselves would double the memory held. */
  private readonly seedsByTextHash = new Map<number, number[]>();
  /** Rows with text in each field no seed took, by the field's name. */
  private readonly unusedFieldRows = new Map<string, number>();
  /** The fields named by the user (`--input-field`, `--id-field`) that some row has a value in. */
  private readonly namedFieldsSeen = new Set<string>();
  /** Field names of the rows, the first few, for a message about a named field no row has. */
  private readonly someFieldNames = new Set<string>();
  private totalRows = 0;

  private unit: 'row' | undefined;

  constructor(
    readonly file: string,
    /** What each seed records as its file: an absolute path, or the object's URL. */
    private readonly source: string,
    private readonly fields: FieldChoice,
  ) {}

  /** A row of a file whose rows have numbers, not lines (Parquet). */
  addRowNumbered(value: unknown, row: number): void {
    this.unit = 'row';
    this.countRow();
    this.addValue(value, row, `row-${row}`);
  }

  countRow(): void {
    this.totalRows++;
  }

  problem(line: number, reason: string, field?: string): void {
    this.invalid.push({
      file: this.file,
      line,
      ...(this.unit ? { unit: this.unit } : {}),
      ...(field === undefined ? {} : { field }),
      reason,
    });
  }

  addJsonText(text: string, line: number): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.problem(line, `invalid JSON (${oneLine((err as Error).message)}). Fix the line or remove it.`);
      return;
    }
    this.addValue(value, line, `line-${line}`);
  }

  /** `defaultId` names a row that has no id of its own. */
  addValue(value: unknown, line: number, defaultId: string): void {
    this.noteFieldNames(value);
    const normalized = normalizeSafely(value, this.fields);
    if (!normalized.ok) {
      this.problem(line, normalized.reason, normalized.field);
      return;
    }
    for (const field of normalized.unusedFields ?? []) {
      this.unusedFieldRows.set(field, (this.unusedFieldRows.get(field) ?? 0) + 1);
    }
    const { id = defaultId, text, output } = normalized.seed;
    const lineOfSameId = this.lineOfId.get(id);
    if (lineOfSameId !== undefined) {
      const whose = normalized.seed.id === undefined ? 'its default id' : 'id';
      const fix = normalized.seed.id === undefined ? 'Give this row an "id".' : 'Give each row its own id.';
      const at = this.unit === 'row' ? 'row' : 'line';
      this.problem(
        line,
        `${whose} ${JSON.stringify(id)} already used at ${at} ${lineOfSameId}. ${fix}`,
        this.fields.id ?? 'id',
      );
      return;
    }
    this.lineOfId.set(id, line);
    const original = this.seedWithSameText(text);
    if (original) {
      this.duplicates.push({ file: this.file, line, duplicateOfLine: original.source.line, id });
      return;
    }
    this.keep({ id, text, ...(output === undefined ? {} : { output }), source: { file: this.source, line } });
  }

  report(format: InputReport['format']): InputReport {
    const { seeds, invalid, duplicates, totalRows } = this;
    const unusedFields = [...this.unusedFieldRows].map(([field, rows]) => ({ field, rows }));
    return { seeds, invalid, duplicates, totalRows, unusedFields, format };
  }

  /**
   * A field named with `--input-field` or `--id-field` that no row has a value in is a mistake, not an option
   * that happens to apply nowhere: a typo there would otherwise lose every row's input, or every row's id.
   */
  checkNamedFields(): void {
    const named: Array<[string, string | undefined]> = [
      ['--input-field', this.fields.input],
      ['--id-field', this.fields.id],
    ];
    for (const [flag, field] of named) {
      if (field === undefined || this.namedFieldsSeen.has(field)) continue;
      const names = [...this.someFieldNames];
      const sameButCase = names.find((name) => name.toLowerCase() === field.toLowerCase());
      const hint = sameButCase
        ? `did you mean "${sameButCase}"? Names match exactly, case included`
        : `the rows' fields include ${names.map((name) => JSON.stringify(name)).join(', ') || 'none'}`;
      throw new UserError(
        `${flag} ${JSON.stringify(field)}: no row of ${this.file} has a value in that field (${hint}). ` +
          `Name a field the rows have, or leave out ${flag}.`,
      );
    }
  }

  private noteFieldNames(value: unknown): void {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
    const row = value as Record<string, unknown>;
    for (const field of [this.fields.input, this.fields.id]) {
      if (field !== undefined && Object.hasOwn(row, field) && row[field] !== null) this.namedFieldsSeen.add(field);
    }
    for (const name of Object.keys(row)) {
      if (this.someFieldNames.size >= FIELD_NAMES_SHOWN) break;
      this.someFieldNames.add(name);
    }
  }

  private seedWithSameText(text: string): SeedRecord | undefined {
    const key = duplicateKey(text);
    const candidates = this.seedsByTextHash.get(hash32(key)) ?? [];
    return candidates.map((index) => this.seeds[index]).find((seed) => duplicateKey(seed.text) === key);
  }

  private keep(seed: SeedRecord): void {
    const hash = hash32(duplicateKey(seed.text));
    const bucket = this.seedsByTextHash.get(hash);
    if (bucket) bucket.push(this.seeds.length);
    else this.seedsByTextHash.set(hash, [this.seeds.length]);
    this.seeds.push(seed);
  }
}

/** A bug in normalizing must not take the whole file down with it: it costs one row. */
function normalizeSafely(value: unknown, fields: FieldChoice): NormalizedRow {
  try {
    return normalizeRow(value, fields);
  } catch (err) {
    return { ok: false, reason: `could not be read (${oneLine((err as Error).message)}). Fix or remove the row.` };
  }
}

async function checkExists(file: string, absolute: string): Promise<void> {
  try {
    const stats = await fs.promises.stat(absolute);
    if (!stats.isFile()) throw new UserError(`${file} is not a regular file: give --input a file of seeds`);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(openFailure(file, absolute, err as NodeJS.ErrnoException));
  }
}

async function checkSeedFile(file: string, absolute: string): Promise<void> {
  let stats: fs.Stats;
  try {
    stats = await fs.promises.stat(absolute);
  } catch (err) {
    throw new UserError(openFailure(file, absolute, err as NodeJS.ErrnoException));
  }
  if (stats.isDirectory()) throw new UserError(`${file} is a directory: give --input a .jsonl or .json file of seeds`);
  if (!stats.isFile()) {
    throw new UserError(`${file} is not a regular file: give --input a .jsonl or .json file of seeds`);
  }
  if (stats.size === 0) throw new UserError(`${file} is empty: ${ADD_ROWS}`);
  const head = await readHead(file, absolute);
  const binaryKind = binaryKindOf(head);
  if (binaryKind) throw new UserError(`${file} looks binary, not JSON or JSONL: ${binaryKind}`);
}

async function readHead(file: string, absolute: string): Promise<Buffer> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(absolute, 'r');
  } catch (err) {
    throw new UserError(openFailure(file, absolute, err as NodeJS.ErrnoException));
  }
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(SNIFF_BYTES), 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function binaryKindOf(head: Buffer): string | undefined {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'it is gzip-compressed; decompress it first (gunzip).';
  const utf16 = (head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff);
  if (utf16) return 'it is UTF-16 text; save it as UTF-8.';
  if (head.includes(0)) return `give --input a text file with one JSON object per line, such as ${ROW_EXAMPLE}.`;
  return undefined;
}

function openFailure(file: string, absolute: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR') {
    return `${file} not found (looked for ${absolute}): check the path given to --input`;
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return `cannot read ${file}: permission denied. Check the file's permissions (chmod +r).`;
  }
  return `cannot read ${file}: ${err.message}`;
}

function asUserError(err: unknown, file: string): unknown {
  if (err instanceof UserError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return new UserError(`cannot read ${file}: ${(err as Error).message}`);
  return err;
}

/**
 * A first row that opens an array, or an object in a file not named .jsonl/.ndjson, starts a JSON document,
 * unless that line is a whole JSON value on its own: then the file is JSONL, or a one-line document when
 * no other row follows and that value holds rows.
 */
async function detectFormat(file: string, absolute: string, maxLineBytes: number): Promise<InputReport['format']> {
  const namedJsonLines = /\.(jsonl|ndjson)$/i.test(file);
  let sawFirstRow = false;
  for await (const line of readFileLines(absolute, maxLineBytes)) {
    const text = (line.bytes ?? line.head).toString('utf8').trim();
    if (!text) continue;
    if (sawFirstRow) return 'jsonl';
    const verdict = formatOfFirstRow(text, line.bytes !== undefined, namedJsonLines);
    if (verdict !== 'json if alone') return verdict;
    sawFirstRow = true;
  }
  if (sawFirstRow) return 'json';
  throw new UserError(`${file} is empty (only blank lines): ${ADD_ROWS}`);
}

function formatOfFirstRow(
  text: string,
  complete: boolean,
  namedJsonLines: boolean,
): InputReport['format'] | 'json if alone' {
  if (!text.startsWith('[') && !text.startsWith('{')) return 'jsonl';
  const opensDocument = text.startsWith('[') || !namedJsonLines;
  const value = complete ? parsedOrUndefined(text) : undefined;
  if (value === undefined) return opensDocument ? 'json' : 'jsonl';
  return Array.isArray(value) || Array.isArray((value as { data?: unknown }).data) ? 'json if alone' : 'jsonl';
}

function parsedOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function readJsonLines(collector: SeedCollector, absolute: string, maxLineBytes: number): Promise<void> {
  for await (const line of readFileLines(absolute, maxLineBytes)) {
    if (!line.bytes) {
      collector.countRow();
      collector.problem(line.number, tooLongReason(line.byteLength, maxLineBytes));
      continue;
    }
    const text = line.bytes.toString('utf8');
    if (!text.trim()) continue;
    collector.countRow();
    if (isUtf8(line.bytes)) collector.addJsonText(text, line.number);
    else collector.problem(line.number, NOT_UTF8);
  }
}

function tooLongReason(byteLength: number, maxLineBytes: number): string {
  return (
    `line too long (${byteLength} bytes, the limit is ${maxLineBytes}); skipped unread. ` +
    'Shorten the row, or split it into several rows.'
  );
}

interface FileLine {
  /** 1-based. */
  number: number;
  /** The line without its line ending (nor a BOM on line 1); absent when it is over the limit. */
  bytes?: Buffer;
  byteLength: number;
  /** The first bytes of the line, kept when the line itself is not. */
  head: Buffer;
}

const LINE_HEAD_BYTES = 64;

/**
 * Splits a byte stream into lines without ever holding more than one line of at most the limit: readline
 * would buffer a 500 MB line whole before anyone could refuse it.
 */
class LineSplitter {
  private parts: Buffer[] = [];
  private length = 0;
  private overLimitHead: Buffer | undefined;
  private lineNumber = 0;

  constructor(private readonly maxLineBytes: number) {}

  *push(chunk: Buffer): Generator<FileLine> {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
      this.append(chunk.subarray(start, end));
      yield this.take();
      start = end + 1;
    }
    this.append(chunk.subarray(start));
  }

  *end(): Generator<FileLine> {
    if (this.length > 0) yield this.take();
  }

  private append(piece: Buffer): void {
    this.length += piece.length;
    if (this.overLimitHead) return;
    this.parts.push(piece);
    // One byte of slack for the \r of a CRLF ending, which is not part of the line.
    if (this.length > this.maxLineBytes + 1) {
      this.overLimitHead = Buffer.from(Buffer.concat(this.parts, Math.min(this.length, LINE_HEAD_BYTES)));
      this.parts = [];
    }
  }

  private take(): FileLine {
    this.lineNumber++;
    const whole = this.overLimitHead ?? (this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts));
    const bytes = withoutLineDecoration(whole, this.lineNumber === 1);
    const byteLength = this.length - (whole.length - bytes.length);
    const overLimit = this.overLimitHead !== undefined || bytes.length > this.maxLineBytes;
    this.parts = [];
    this.length = 0;
    this.overLimitHead = undefined;
    const head = bytes.subarray(0, LINE_HEAD_BYTES);
    return overLimit
      ? { number: this.lineNumber, byteLength, head }
      : { number: this.lineNumber, bytes, byteLength, head };
  }
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function withoutLineDecoration(bytes: Buffer, firstLine: boolean): Buffer {
  const start = firstLine && bytes.subarray(0, 3).equals(BOM) ? 3 : 0;
  const end = bytes.length > start && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return bytes.subarray(start, end);
}

async function* readFileLines(absolute: string, maxLineBytes: number): AsyncGenerator<FileLine> {
  const splitter = new LineSplitter(maxLineBytes);
  const stream = fs.createReadStream(absolute, { highWaterMark: 1 << 16 });
  try {
    for await (const chunk of stream) yield* splitter.push(chunk as Buffer);
    yield* splitter.end();
  } finally {
    stream.destroy();
  }
}

interface Span {
  start: number;
  end: number;
}

async function readJsonDocument(collector: SeedCollector, absolute: string): Promise<void> {
  const { text, invalidUtf8Lines } = await readDocumentText(collector.file, absolute);
  const document = parseDocument(text, collector.file);
  const { rows, spans } = rowsOf(document, text);
  if (!rows.length) throw new UserError(`${collector.file} has no rows: the array is empty; ${ADD_ROWS_TO_ARRAY}`);
  const lineAt = ascendingLineFinder(text);
  let previousLine = 0;
  let rank = 0;
  rows.forEach((row, index) => {
    const span = spans[index] ?? { start: 0, end: 0 };
    const line = lineAt(span.start);
    // Rows sharing a line (a one-line array) need default ids of their own.
    rank = line === previousLine ? rank + 1 : 1;
    previousLine = line;
    const badLine = firstAtLeast(invalidUtf8Lines, line);
    collector.countRow();
    if (badLine !== undefined && badLine <= lineAt(span.end)) collector.problem(line, `line ${badLine} is ${NOT_UTF8}`);
    else collector.addValue(row, line, rank === 1 ? `line-${line}` : `line-${line}-${rank}`);
  });
}

const ADD_ROWS_TO_ARRAY = `add rows such as ${ROW_EXAMPLE}`;

async function readDocumentText(file: string, absolute: string): Promise<{ text: string; invalidUtf8Lines: number[] }> {
  const { size } = await fs.promises.stat(absolute);
  if (size > bufferConstants.MAX_STRING_LENGTH) {
    const mebibytes = Math.round(size / 2 ** 20);
    throw new UserError(
      `${file} is too large to read as one JSON document (${mebibytes} MiB): convert it to JSONL, ` +
        `one row per line (for an array: jq -c '.[]' ${file} > seeds.jsonl)`,
    );
  }
  const bytes = withoutBom(await fs.promises.readFile(absolute));
  return { text: bytes.toString('utf8'), invalidUtf8Lines: isUtf8(bytes) ? [] : linesNotUtf8(bytes) };
}

function withoutBom(bytes: Buffer): Buffer {
  return bytes.subarray(0, 3).equals(BOM) ? bytes.subarray(3) : bytes;
}

/** Ascending 1-based numbers of the lines whose bytes are not UTF-8. */
function linesNotUtf8(bytes: Buffer): number[] {
  const lines: number[] = [];
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline === -1 ? bytes.length : newline;
    if (!isUtf8(bytes.subarray(start, end))) lines.push(line);
    start = end + 1;
  }
  return lines;
}

function parseDocument(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = oneLine((err as Error).message);
    const position = /at position (\d+)/.exec(message);
    const where = position ? `:${ascendingLineFinder(text)(Number(position[1]))}` : '';
    throw new UserError(
      `${file}${where}: invalid JSON (${message}). Fix the syntax; in JSONL, each line must hold one whole JSON value.`,
    );
  }
}

function rowsOf(document: unknown, text: string): { rows: unknown[]; spans: Span[] } {
  if (Array.isArray(document)) return { rows: document, spans: new RowSpanScanner('array').scan(text) };
  const data = (document as { data?: unknown } | null)?.data;
  if (Array.isArray(data)) return { rows: data, spans: new RowSpanScanner('data').scan(text) };
  return { rows: [document], spans: [{ start: text.search(/\S/), end: text.length }] };
}

/**
 * Finds where each row of a JSON document starts and ends, for line numbers: JSON.parse tells neither.
 * The text has already parsed, so tracking strings and brackets is all it takes.
 */
class RowSpanScanner {
  private spans: Span[] = [];
  private depth = 0;
  /** Depth of the rows array while inside it, else -1. */
  private rowsDepth = -1;
  private rowStart = -1;
  private awaitingRow = false;
  private awaitingKey = false;
  private key = '';

  constructor(private readonly container: 'array' | 'data') {}

  scan(text: string): Span[] {
    for (let i = 0; i < text.length; i++) {
      const char = text[i];
      if (char === ' ' || char === '\n' || char === '\r' || char === '\t') continue;
      if (this.awaitingRow && this.depth === this.rowsDepth && char !== ']') {
        this.rowStart = i;
        this.awaitingRow = false;
      }
      if (char === '"') i = this.string(text, i);
      else if (char === '[' || char === '{') this.open(char);
      else if (char === ']' || char === '}') this.close(i);
      else if (char === ',') this.comma(i);
    }
    return this.spans;
  }

  private string(text: string, start: number): number {
    const end = closingQuote(text, start);
    if (this.awaitingKey && this.depth === 1) {
      this.key = JSON.parse(text.slice(start, end + 1)) as string;
      this.awaitingKey = false;
    }
    return end;
  }

  private open(char: '[' | '{'): void {
    this.depth++;
    if (char === '{' && this.depth === 1) this.awaitingKey = true;
    if (char === '[' && this.opensRows()) {
      // A repeated "data" key: JSON.parse keeps the last one, and so does this.
      this.spans = [];
      this.rowsDepth = this.depth;
      this.awaitingRow = true;
    }
  }

  private opensRows(): boolean {
    return this.container === 'array' ? this.depth === 1 : this.depth === 2 && this.key === 'data';
  }

  private close(at: number): void {
    if (this.depth === this.rowsDepth) {
      this.endRow(at);
      this.rowsDepth = -1;
    }
    this.depth--;
  }

  private comma(at: number): void {
    if (this.depth === this.rowsDepth) {
      this.endRow(at);
      this.awaitingRow = true;
    } else if (this.depth === 1) {
      this.awaitingKey = true;
    }
  }

  private endRow(at: number): void {
    if (this.rowStart >= 0) this.spans.push({ start: this.rowStart, end: at });
    this.rowStart = -1;
  }
}

function closingQuote(text: string, openingQuote: number): number {
  for (let quote = text.indexOf('"', openingQuote + 1); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
  return text.length;
}

/** Line numbers of offsets asked for in ascending order, counting each newline once. */
function ascendingLineFinder(text: string): (offset: number) => number {
  let line = 1;
  let scanned = 0;
  return (offset) => {
    let newline = text.indexOf('\n', scanned);
    while (newline !== -1 && newline < offset) {
      line++;
      scanned = newline + 1;
      newline = text.indexOf('\n', scanned);
    }
    return line;
  };
}

function firstAtLeast(sorted: readonly number[], value: number): number | undefined {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sorted[middle] < value) low = middle + 1;
    else high = middle;
  }
  return sorted[low];
}

function checkedReport(collector: SeedCollector, format: InputReport['format'], strict: boolean): InputReport {
  collector.checkNamedFields();
  const report = collector.report(format);
  const { file } = collector;
  const { seeds, invalid, totalRows } = report;
  if (!seeds.length && !totalRows) throw new UserError(`${file} is empty: ${ADD_ROWS}`);
  if (!seeds.length) {
    throw new UserError(
      `${file} has no valid rows (${invalid.length} of ${totalRows} invalid):\n${listProblems(invalid)}\n` +
        `Each row needs an instruction, such as ${ROW_EXAMPLE}.`,
    );
  }
  if (strict && invalid.length) {
    throw new UserError(
      `${file} has ${invalid.length} invalid row${invalid.length > 1 ? 's' : ''}, and --strict refuses them:\n` +
        `${listProblems(invalid)}\nFix or remove them, or run without --strict to skip them.`,
    );
  }
  return report;
}

function listProblems(problems: readonly InputProblem[]): string {
  const shown = problems.slice(0, PROBLEMS_SHOWN).map((problem) => `  ${formatProblem(problem)}`);
  if (problems.length > shown.length) shown.push(`  ... and ${problems.length - shown.length} more`);
  return shown.join('\n');
}

function oneLine(message: string): string {
  return message.replace(/\s+/g, ' ').trim();
}

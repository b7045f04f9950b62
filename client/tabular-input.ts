/**
 * Seed files that are tables: CSV and TSV (csv-parse, streamed, a header row naming the fields) and Parquet
 * (hyparquet, read a slice of rows at a time; snappy, gzip, zstd, brotli and lz4 pages). Each row becomes the
 * same plain object a JSONL line would, so the row shapes and field choices of `evol run --input` apply unchanged.
 */
import * as fs from 'node:fs';
import { parse, CsvError } from 'csv-parse';
import { UserError } from '../core/validation';

export type TabularFormat = 'csv' | 'tsv' | 'parquet';

const PARQUET_MAGIC = Buffer.from('PAR1');

/** Parquet by its magic bytes (whatever the name), CSV and TSV by their extension; undefined for JSON and JSONL. */
export async function tabularFormatOf(file: string, absolute: string): Promise<TabularFormat | undefined> {
  if (/\.(parquet|pq)$/i.test(file)) return 'parquet';
  if (await startsWith(absolute, PARQUET_MAGIC)) return 'parquet';
  if (/\.csv$/i.test(file)) return 'csv';
  if (/\.tsv$/i.test(file)) return 'tsv';
  return undefined;
}

async function startsWith(absolute: string, magic: Buffer): Promise<boolean> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(absolute, 'r');
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(magic.length), 0, magic.length, 0);
    return bytesRead === magic.length && buffer.equals(magic);
  } catch {
    return false; // the reader that follows says what is wrong with the file
  } finally {
    await handle?.close();
  }
}

/** Columns that hold a list in JSON text when a table carries a chat or a self-instruct row. */
const JSON_COLUMNS = new Set(['instances', 'conversations', 'messages']);

/** A table cell as a row field: empty cells are absent; a JSON list in a list column is parsed. */
function cellValue(column: string, cell: string): unknown {
  if (cell === '') return undefined;
  if (JSON_COLUMNS.has(column.toLowerCase()) && /^\s*\[/.test(cell)) {
    try {
      return JSON.parse(cell) as unknown;
    } catch {
      return cell; // reported by the row's shape as "expected an array"
    }
  }
  return cell;
}

export interface CsvSink {
  /** A record as an object keyed by the header; `line` is where the record starts. */
  row(value: Record<string, unknown>, line: number): void;
  /** A record that could not be read. */
  problem(line: number, reason: string): void;
}

/** Streams a CSV or TSV file; a malformed record is a problem at its line, the rest are read. */
export async function readCsvRows(file: string, absolute: string, format: 'csv' | 'tsv', sink: CsvSink) {
  const parser = fs.createReadStream(absolute).pipe(
    parse({
      bom: true,
      delimiter: format === 'tsv' ? '\t' : ',',
      columns: (header: string[]) => checkedHeader(file, header),
      skip_empty_lines: true,
      relax_column_count: true,
      skip_records_with_error: true,
      info: true,
      raw: true,
    }),
  );
  parser.on('skip', (err: CsvError & { lines?: number }) => {
    sink.problem(err.lines ?? 0, `not valid ${format.toUpperCase()} (${err.message}). Fix the record or remove it.`);
  });
  try {
    for await (const record of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
      raw: string;
    }>) {
      const newlines = (record.raw.replace(/\r?\n$/, '').match(/\n/g) ?? []).length;
      const value: Record<string, unknown> = {};
      for (const [column, cell] of Object.entries(record.record)) {
        const v = cellValue(column, cell ?? '');
        if (v !== undefined) value[column] = v;
      }
      const line = record.info.lines - newlines;
      if (Object.keys(value).length === 0)
        sink.problem(line, 'every cell of the record is empty. Fill it in or remove it.');
      else sink.row(value, line);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new UserError(`${file}${line ? `:${line}` : ''}: not valid ${format.toUpperCase()}: ${err.message}`);
    }
    throw err;
  }
}

function checkedHeader(file: string, header: string[]): string[] {
  const names = header.map((h) => h.trim());
  if (names.every((n) => n === '')) {
    throw new UserError(`${file}:1: the header row is empty: the first row must name the columns, such as instruction`);
  }
  const seen = new Set<string>();
  for (const name of names) {
    if (name && seen.has(name)) {
      throw new UserError(
        `${file}:1: the column "${name}" appears twice in the header row: give each column its own name`,
      );
    }
    seen.add(name);
  }
  return names;
}

/** Rows read from a Parquet file at a time, so memory stays bounded on large files. */
const PARQUET_SLICE_ROWS = 10_000;

/** Imports an ES module (hyparquet, hyparquet-writer): `import()` kept as written, which TypeScript would turn into `require()`. */
export const importModule = new Function('specifier', 'return import(specifier)') as <T>(
  specifier: string,
) => Promise<T>;

/** hyparquet's Node entry point: its browser API plus reading from a file. */
type Hyparquet = typeof import('hyparquet') & {
  asyncBufferFromFile(filename: string): Promise<import('hyparquet').AsyncBuffer>;
};

/** Plain values for a row field: int64 columns come back as bigint, binary ones as bytes. */
function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plainValue);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainValue(v)]));
  }
  return value;
}

/** Reads a Parquet file's rows in slices; `row` gets each row with its 1-based number. */
export async function readParquetRows(
  file: string,
  absolute: string,
  row: (value: Record<string, unknown>, number: number) => void,
): Promise<void> {
  const hyparquet = await importModule<Hyparquet>('hyparquet');
  const { compressors } = await importModule<{ compressors: import('hyparquet').Compressors }>('hyparquet-compressors');
  let buffer: import('hyparquet').AsyncBuffer;
  let metadata: import('hyparquet').FileMetaData;
  try {
    buffer = await hyparquet.asyncBufferFromFile(absolute);
    metadata = await hyparquet.parquetMetadataAsync(buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw err;
    throw new UserError(
      `${file} is not a readable Parquet file (${(err as Error).message}). Check that the download is complete.`,
    );
  }
  const total = Number(metadata.num_rows);
  for (let start = 0; start < total; start += PARQUET_SLICE_ROWS) {
    let rows: Record<string, unknown>[];
    try {
      rows = await hyparquet.parquetReadObjects({
        file: buffer,
        metadata,
        compressors,
        rowStart: start,
        rowEnd: Math.min(total, start + PARQUET_SLICE_ROWS),
      });
    } catch (err) {
      throw new UserError(
        `${file}: rows ${start + 1}-${Math.min(total, start + PARQUET_SLICE_ROWS)} cannot be read (${(err as Error).message}).`,
      );
    }
    rows.forEach((value, i) => row(plainValue(value) as Record<string, unknown>, start + i + 1));
  }
}

/**
 * An export's rows as a Parquet file, with the columns of core/export-columns.ts, written by hyparquet-writer (an ES
 * module, imported when first needed).
 */
import type { ParquetWriteOptions } from 'hyparquet-writer';
import { EVOLFORGE_RELEASE } from '../core/release';
import { parquetColumnsOf, parquetSchemaOf } from '../core/export-columns';
import type { ExportFormat, ExportRow } from '../core/export';
import { importModule } from './tabular-input';

/** hyparquet-writer's Node entry point: its browser API plus writing to a file. */
type HyparquetWriter = {
  parquetWriteFile(options: Omit<ParquetWriteOptions, 'writer'> & { filename: string }): void;
};

export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

async function loadWriter(): Promise<HyparquetWriter> {
  try {
    return await importModule<HyparquetWriter>('hyparquet-writer');
  } catch (err) {
    throw new Error(
      `writing Parquet needs the hyparquet-writer package, which could not be loaded (${(err as Error).message}): reinstall EvolForge's dependencies with \`npm ci\``,
    );
  }
}

/** Writes `rows` in the shape of `format` to `file` (replacing it), in row groups the Hub's viewer pages through. */
export async function writeParquetRows(file: string, rows: readonly ExportRow[], format: ExportFormat): Promise<void> {
  const { parquetWriteFile } = await loadWriter();
  parquetWriteFile({
    filename: file,
    schema: parquetSchemaOf(format) as ParquetWriteOptions['schema'],
    columnData: parquetColumnsOf(rows, format) as ParquetWriteOptions['columnData'],
    createdBy: `EvolForge ${EVOLFORGE_RELEASE} (hyparquet-writer)`,
  });
}

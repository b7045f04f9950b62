/**
 * The columns of an export written as Parquet (`evol export --format parquet`, `--dataset DIR`), described once:
 * the Parquet schema, the column data and the Hugging Face `datasets` features all come from the same tree, so a
 * file and its dataset card never disagree. Pure: no I/O.
 *
 * Every field is nullable, as pyarrow, pandas and `datasets` write them, so an export concatenates with their tables;
 * the lineage ids stay one `_evol` struct, so a Parquet row reads back as the JSON export's row.
 */
import { formatRow, type ExportFormat, type ExportRow } from './export';

/** A Parquet schema element (thrift's SchemaElement), the fields of it these columns use. */
export interface SchemaElement {
  name: string;
  type?: 'BYTE_ARRAY' | 'INT64';
  converted_type?: 'UTF8' | 'LIST';
  repetition_type?: 'REQUIRED' | 'OPTIONAL' | 'REPEATED';
  num_children?: number;
}

/** A column or a field of a struct: a string, a 64-bit integer, a struct, or a list of structs. */
export type Field =
  | { name: string; type: 'string' | 'int64' }
  | { name: string; struct: readonly Field[] }
  | { name: string; list: readonly Field[] };

const text = (name: string): Field => ({ name, type: 'string' });
const int64 = (name: string): Field => ({ name, type: 'int64' });

/** `_evol`: the lineage ids of core/export.ts `EvolIds`; a seed's parentId and an unscored row's ratings are null. */
const EVOL_STRUCT: Field = {
  name: '_evol',
  struct: [
    text('runId'),
    text('seedId'),
    int64('round'),
    text('operation'),
    text('rowId'),
    text('parentId'),
    int64('difficulty'),
    int64('complexity'),
  ],
};

/** The columns of each row shape, in the JSON export's key order. */
export const EXPORT_COLUMNS: Record<ExportFormat, readonly Field[]> = {
  alpaca: [text('instruction'), text('input'), text('output'), EVOL_STRUCT],
  sharegpt: [{ name: 'conversations', list: [text('from'), text('value')] }, EVOL_STRUCT],
  messages: [{ name: 'messages', list: [text('role'), text('content')] }, EVOL_STRUCT],
};

/** The Parquet schema, flattened depth first as the file's footer holds it; lists in the standard three levels. */
export function parquetSchemaOf(format: ExportFormat): SchemaElement[] {
  const columns = EXPORT_COLUMNS[format];
  return [{ name: 'root', num_children: columns.length }, ...columns.flatMap(schemaOf)];
}

function schemaOf(field: Field): SchemaElement[] {
  if ('type' in field) {
    return field.type === 'string'
      ? [{ name: field.name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }]
      : [{ name: field.name, type: 'INT64', repetition_type: 'OPTIONAL' }];
  }
  if ('struct' in field) {
    return [
      { name: field.name, repetition_type: 'OPTIONAL', num_children: field.struct.length },
      ...field.struct.flatMap(schemaOf),
    ];
  }
  return [
    { name: field.name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', repetition_type: 'OPTIONAL', num_children: field.list.length },
    ...field.list.flatMap(schemaOf),
  ];
}

/** One column of values per top-level field, as hyparquet-writer takes them (64-bit integers as bigint). */
export function parquetColumnsOf(
  rows: readonly ExportRow[],
  format: ExportFormat,
): Array<{ name: string; data: unknown[] }> {
  const shaped = rows.map((row) => formatRow(row, format) as Record<string, unknown>);
  return EXPORT_COLUMNS[format].map((field) => ({
    name: field.name,
    data: shaped.map((row) => valueOf(field, row[field.name])),
  }));
}

function valueOf(field: Field, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if ('type' in field) return field.type === 'int64' ? BigInt(value as number) : String(value);
  if ('struct' in field) {
    const object = value as Record<string, unknown>;
    return Object.fromEntries(field.struct.map((child) => [child.name, valueOf(child, object[child.name])]));
  }
  return (value as unknown[]).map((item) => valueOf({ name: 'element', struct: field.list }, item));
}

/** A field as the `dataset_info.features` of a dataset card lists it (the `datasets` library's YAML form). */
export type CardFeature =
  | { name: string; dtype: 'string' | 'int64' }
  | { name: string; struct: CardFeature[] }
  | { name: string; list: CardFeature[] };

export function cardFeaturesOf(format: ExportFormat): CardFeature[] {
  return EXPORT_COLUMNS[format].map(featureOf);
}

function featureOf(field: Field): CardFeature {
  if ('type' in field) return { name: field.name, dtype: field.type };
  if ('struct' in field) return { name: field.name, struct: field.struct.map(featureOf) };
  return { name: field.name, list: field.list.map(featureOf) };
}

/** Parquet files for tests, written with hyparquet-writer (an ES module: run in a Node process of its own). */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export interface ParquetColumn {
  name: string;
  data: unknown[];
  /** A Parquet type: STRING, INT64 (numbers given here are written as 64-bit integers) ... */
  type: string;
}

export function writeParquet(file: string, columns: ParquetColumn[]): void {
  const script = `
    import { parquetWriteFile } from 'hyparquet-writer';
    const columns = JSON.parse(process.argv[1]).map((c) => c.type === 'INT64' ? { ...c, data: c.data.map(BigInt) } : c);
    parquetWriteFile({ filename: process.argv[2], columnData: columns });
  `;
  execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(columns), file], {
    cwd: path.resolve(__dirname, '..', '..'),
  });
}

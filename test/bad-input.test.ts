/**
 * A corpus of malformed files fed to the input reader and the config loaders through the real CLI:
 * each gives a clear error naming the file (and the line where there is one), a non-zero exit,
 * and never a stack trace.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testAddress } from './helpers/temporal';
import { CLI } from './helpers/worker-process';

const run = promisify(execFile);

interface Case {
  name: string;
  file: string;
  content: string | Buffer;
  /** What the message must contain besides the file name. */
  mentions: RegExp;
}

const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;

const seedCorpus: Case[] = [
  {
    name: 'binary',
    file: 'binary.jsonl',
    content: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 3, 0, 0xff]),
    mentions: /binary/i,
  },
  {
    name: 'invalid UTF-8',
    file: 'latin1.jsonl',
    content: Buffer.concat([Buffer.from('{"instruction": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]),
    mentions: /:1\b.*UTF-8|UTF-8.*:1\b|line 1/i,
  },
  {
    name: 'a 10 MB line',
    file: 'huge.jsonl',
    content: `{"instruction": "${'x'.repeat(10 * 1024 * 1024)}"}\n`,
    mentions: /:1\b|line 1|too long/i,
  },
  { name: 'wrong types', file: 'types.jsonl', content: '{"instruction": 12}\n', mentions: /:1\b/ },
  { name: 'deep nesting', file: 'deep.jsonl', content: `${deep}\n`, mentions: /:1\b/ },
  {
    name: 'a JSON array where JSONL is expected, broken',
    file: 'array.jsonl',
    content: '[{"instruction": "a"},\n{"instruction": }]\n',
    mentions: /array\.jsonl/,
  },
  { name: 'empty', file: 'empty.jsonl', content: '', mentions: /empty/i },
  { name: 'only a BOM and CRLF blank lines', file: 'bom.jsonl', content: '\uFEFF\r\n\r\n', mentions: /empty/i },
];

describe('malformed input files through the CLI', () => {
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-bad-input-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function evol(args: string[]) {
    try {
      await run(process.execPath, [CLI, ...args], {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          TEMPORAL_ADDRESS: testAddress(),
          EVOL_STORE_DIR: path.join(dir, 'runs'),
        },
        timeout: 60_000,
        maxBuffer: 1024 * 1024,
      });
      return { code: 0, stderr: '' };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  }

  function expectClearError(result: { code: number; stderr: string }, file: string, mentions: RegExp) {
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toMatch(mentions);
    expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(result.stderr.length).toBeLessThan(4000);
  }

  test.each(seedCorpus)('seed file: $name', async ({ file, content, mentions }) => {
    fs.writeFileSync(path.join(dir, file), content);
    expectClearError(await evol(['run', '--input', file, '--strict', '--llm', 'sim']), file, mentions);
  });

  const good = '{"instruction": "Explain rainbows."}\n';
  const configCorpus: Case[] = [
    { name: 'config: invalid JSON', file: 'bad.config.json', content: '{"llm": {', mentions: /invalid JSON/ },
    {
      name: 'config: invalid YAML names the line',
      file: 'bad.config.yaml',
      content: 'llm:\n  default:\n    model: [unclosed\n',
      mentions: /:\d+: invalid YAML/,
    },
    {
      name: 'config: unknown field',
      file: 'unknown.config.json',
      content: '{"llm": {"evolvr": {"model": "x"}}}',
      mentions: /evolvr/,
    },
    {
      name: 'config: wrong type',
      file: 'type.config.json',
      content: '{"llm": {"default": {"temperature": "hot"}}}',
      mentions: /temperature/,
    },
    {
      name: 'config: binary',
      file: 'binary.config.json',
      content: Buffer.from([0, 1, 2, 0xff, 0xfe]),
      mentions: /invalid JSON/,
    },
  ];

  test.each(configCorpus)('$name', async ({ file, content, mentions }) => {
    fs.writeFileSync(path.join(dir, 'good.jsonl'), good);
    fs.writeFileSync(path.join(dir, file), content);
    expectClearError(await evol(['run', '--input', 'good.jsonl', '--config', file, '--llm', 'real']), file, mentions);
  });

  test.each([
    {
      name: 'price table: wrong shape',
      file: 'prices.json',
      content: '{"gpt-x": {"input": 1}}',
      mentions: /prices\.json/,
    },
    {
      name: 'method file: no placeholder',
      file: 'method.json',
      content: '{"operations": [{"name": "x", "template": "no placeholder"}]}',
      mentions: /\{instruction\}/,
    },
  ])('$name', async ({ file, content, mentions }) => {
    fs.writeFileSync(path.join(dir, 'good.jsonl'), good);
    fs.writeFileSync(path.join(dir, file), content);
    const flag = file === 'prices.json' ? '--prices' : '--method';
    expectClearError(await evol(['run', '--input', 'good.jsonl', flag, file, '--llm', 'sim']), file, mentions);
  });

  test('nothing is created when the input is refused', () => {
    expect(
      fs.existsSync(path.join(dir, 'runs'))
        ? fs.readdirSync(path.join(dir, 'runs')).filter((f) => !f.startsWith('.'))
        : [],
    ).toEqual([]);
  });
});

import { DEFAULT_SQLITE_PRAGMAS, devServerArgs } from '../../server/dev-server';

const base = { ip: '127.0.0.1', port: 7233, uiPort: 8233, namespace: 'default', dbFile: '/tmp/t.sqlite' };

/** The values that follow each occurrence of `flag`. */
function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag ? [args[i + 1]] : []));
}

describe('the dev server command line', () => {
  test('turns on eager activity execution and WAL by default', () => {
    const args = devServerArgs(base);
    expect(valuesOf(args, '--dynamic-config-value')).toEqual(['system.enableActivityEagerExecution=true']);
    expect(valuesOf(args, '--sqlite-pragma')).toEqual(DEFAULT_SQLITE_PRAGMAS);
    expect(valuesOf(args, '--ui-port')).toEqual(['8233']);
  });

  test('a caller setting replaces the default of the same key and adds its own', () => {
    const args = devServerArgs({
      ...base,
      headless: true,
      dynamicConfig: { 'system.enableActivityEagerExecution': false, 'limit.historyCount.suggestContinueAsNew': 300 },
      sqlitePragmas: ['journal_mode=delete'],
    });
    expect(valuesOf(args, '--dynamic-config-value')).toEqual([
      'system.enableActivityEagerExecution=false',
      'limit.historyCount.suggestContinueAsNew=300',
    ]);
    expect(valuesOf(args, '--sqlite-pragma')).toEqual(['journal_mode=delete']);
    expect(args).toContain('--headless');
    expect(args).not.toContain('--ui-port');
  });
});

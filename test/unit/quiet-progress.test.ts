import { emptyCounts, ZERO_SPEND, type RunProgress } from '../../core/dataset';
import { QuietProgress, quietRunLines } from '../../client/follow';

/** A run of 10 seeds, `done` of them done, `activeMs` into its work. */
function progress(done: number, activeMs: number, status: RunProgress['status'] = 'running'): RunProgress {
  return {
    runId: 'r1',
    status,
    ...(status === 'paused' ? { pauseReason: 'paused by request (evol pause)' } : {}),
    totalSeeds: 10,
    started: 10,
    inFlight: 10 - done,
    counts: { ...emptyCounts(2), done, completed: done },
    concurrency: 16,
    budget: {},
    spent: ZERO_SPEND,
    startedAtMs: 0,
    activeMs,
    continuedAsNew: 0,
    pausePropagated: true,
  };
}

describe('progress without a TTY: a line when the run moves, a heartbeat while it does not', () => {
  test('the first line is printed; the same line again only after the heartbeat interval', () => {
    const quiet = new QuietProgress(5_000, 60_000);
    expect(quiet.due('3/10', 0)).toBe(true);
    expect(quiet.due('3/10', 5_000)).toBe(false);
    expect(quiet.due('3/10', 59_999)).toBe(false);
    expect(quiet.due('3/10', 60_000)).toBe(true);
    expect(quiet.due('3/10', 65_000)).toBe(false);
  });

  test('a line that moved is printed, but at most once every 5 s', () => {
    const quiet = new QuietProgress(5_000, 60_000);
    expect(quiet.due('3/10', 0)).toBe(true);
    expect(quiet.due('4/10', 1_000)).toBe(false);
    expect(quiet.due('5/10', 4_999)).toBe(false);
    expect(quiet.due('5/10', 5_000)).toBe(true);
    expect(quiet.due('6/10', 10_000)).toBe(true);
  });

  test('the last line (completed or paused) is printed at once', () => {
    const quiet = new QuietProgress(5_000, 60_000);
    expect(quiet.due('9/10', 0)).toBe(true);
    expect(quiet.due('10/10 completed', 100, true)).toBe(true);
  });

  test('a run that does not move, polled every second for two minutes, prints 3 lines, not one every 5 s', () => {
    let now = 0;
    const lineOf = quietRunLines(() => now);
    const printed: string[] = [];
    // Its rate and ETA change at every poll (active time grows); nothing else does.
    for (; now <= 120_000; now += 1_000) {
      const line = lineOf(progress(4, 30_000 + now));
      if (line) printed.push(line);
    }
    expect(printed).toHaveLength(3);
    expect(new Set(printed.map((line) => line.replace(/, [\d.]+\/s, ETA .*$/, ''))).size).toBe(1);
  });

  test('a run that moves every second prints a line every 5 s, and its pause at once', () => {
    let now = 0;
    const lineOf = quietRunLines(() => now);
    const printed: string[] = [];
    for (let done = 0; done < 10; done++, now += 1_000) {
      const line = lineOf(progress(done, now));
      if (line) printed.push(line);
    }
    expect(printed.map((line) => line.split(',')[0])).toEqual(['0/10 done', '5/10 done']);
    const paused = lineOf(progress(9, now, 'paused'));
    expect(paused).toContain('PAUSED (paused by request (evol pause))');
  });
});

import { emptyCounts, runSpend, type RunCounts, type Spend } from '../../core/dataset';

const usage = (totalTokens: number) => ({ promptTokens: totalTokens - 10, completionTokens: 10, totalTokens });

describe("a run's spend: its calls and its tokens come from the same count", () => {
  const finished = (calls: number, tokens: number): RunCounts => ({
    ...emptyCounts(4),
    done: 6,
    completed: 6,
    usage: usage(tokens),
    costUsd: 0,
    calls,
  });

  test("when no worker's report has arrived yet (a run shorter than a report's second), it shows the finished instructions' calls, not 0", () => {
    const spend = runSpend({ calls: 0, usage: usage(0), costUsd: 0 }, finished(84, 20331));
    expect(spend).toMatchObject({ calls: 84, usage: { totalTokens: 20331 } });
  });

  test("when the workers' last reports are lost, both figures are the finished instructions'", () => {
    const reported: Spend = { calls: 70, usage: usage(17000), costUsd: 0 };
    expect(runSpend(reported, finished(84, 20331))).toMatchObject({ calls: 84, usage: { totalTokens: 20331 } });
  });

  test("while instructions run, the workers' reports are ahead: both figures are theirs", () => {
    const reported: Spend = { calls: 30, usage: usage(9000), costUsd: 0.01 };
    expect(runSpend(reported, { ...finished(12, 4000), costUsd: 0.004 })).toEqual(reported);
  });
});

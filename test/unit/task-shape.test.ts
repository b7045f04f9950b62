import fs from 'node:fs';
import { notATask, ROWS_THAT_GOT_THROUGH } from '../helpers/task-shape';
import { sharedDataFile } from '../helpers/shared-data';

/** Tasks, evolved or not: the reading must leave them be. */
const TASKS: Array<[string, string, string]> = [
  [
    'an added constraint',
    'Give three tips for staying healthy.',
    'Give three tips for staying healthy, each backed by a peer-reviewed study.',
  ],
  [
    'a question',
    'What is the capital of France?',
    'What is the capital of France, and how did it become the seat of government?',
  ],
  [
    'a request after "Given"',
    'Sort a list of numbers.',
    'Given a list of integers with duplicates, return them sorted in descending order.',
  ],
  [
    'a scenario, then the request',
    'Plan a trip.',
    'You have two days in Lisbon with a budget of 300 euros. Plan the trip hour by hour.',
  ],
  [
    'a request with a list of parts',
    'Write a function.',
    'Write a Python function that:\n1. Reads a CSV file of sales.\n2. Groups the rows by region.',
  ],
  ['a list of requirements', 'Plan a trip.', 'Your plan must:\n- Stay within 300 euros.\n- Visit two museums.'],
  [
    'a gerund opener',
    'Convert 85 F to Celsius.',
    'Converting 85 F and 40 F to Celsius, show each step of the calculation.',
  ],
  [
    'code, then the request',
    'Which product sold best?',
    '```json\n{"kettle": 120, "toaster": 95}\n```\nUsing the JSON above, find the product that sold best.',
  ],
];

describe("the real-model tier's own reading of a task", () => {
  test.each(ROWS_THAT_GOT_THROUGH)('catches %s', (_name, parent, row, shape) => {
    expect(notATask(row, parent)).toMatch(new RegExp(`^${shape}`));
  });

  test.each(TASKS)('leaves a task be: %s', (_name, parent, task) => {
    expect(notATask(task, parent)).toBeUndefined();
  });

  const file = sharedDataFile('self_instruct_seed_tasks.jsonl');
  (file ? test : test.skip)("leaves the 175 self-instruct seeds (others' tasks) be", () => {
    const rows = fs
      .readFileSync(file!, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { instruction: string; instances: Array<{ input: string }> });
    const texts = rows.map((r) =>
      r.instances[0]?.input ? `${r.instruction}\n\n${r.instances[0].input}` : r.instruction,
    );
    const flagged = texts.flatMap((text, i) => {
      const reason = notATask(text, texts[(i + 7) % texts.length]);
      return reason ? [`${reason}: ${text.slice(0, 80)}`] : [];
    });
    expect(flagged).toEqual([]);
  });
});

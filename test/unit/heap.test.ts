import { DEFAULT_HEAP_GROWING_PERCENT, limitHeapGrowth } from '../../worker/heap';

describe("the worker's heap growth", () => {
  test('is bounded by default, EVOL_HEAP_GROWING_PERCENT sets it, 0 leaves it to V8', () => {
    expect(limitHeapGrowth({})).toBe(DEFAULT_HEAP_GROWING_PERCENT);
    expect(limitHeapGrowth({ EVOL_HEAP_GROWING_PERCENT: ' 25 ' })).toBe(25);
    expect(limitHeapGrowth({ EVOL_HEAP_GROWING_PERCENT: '0' })).toBe(0);
    expect(limitHeapGrowth({ EVOL_HEAP_GROWING_PERCENT: '' })).toBe(DEFAULT_HEAP_GROWING_PERCENT);
  });

  test('a value that is not a whole number of percent is refused, naming the variable', () => {
    for (const bad of ['lots', '-5', '12.5']) {
      expect(() => limitHeapGrowth({ EVOL_HEAP_GROWING_PERCENT: bad })).toThrow(
        `EVOL_HEAP_GROWING_PERCENT must be a whole number of percent (0 leaves it to V8), not "${bad}"`,
      );
    }
  });
});

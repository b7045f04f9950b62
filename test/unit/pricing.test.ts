/** Cost by the price table: cached prompt tokens at the cached rate, Batch API rows at the batch rates. */
import { costOf, DEFAULT_PRICES } from '../../core/pricing';
import { addUsage } from '../../core/usage';

const usage = { promptTokens: 1_000_000, completionTokens: 1_000_000, totalTokens: 2_000_000 };

describe('costOf', () => {
  test('online: input and output at their prices; an unknown model costs nothing', () => {
    expect(costOf(usage, { inputPerMillion: 2, outputPerMillion: 8 })).toBeCloseTo(10);
    expect(costOf(usage, undefined)).toBe(0);
  });

  test('cached prompt tokens are charged at the cached rate, or the input rate when the table has none', () => {
    const cached = { ...usage, cachedPromptTokens: 400_000 };
    expect(costOf(cached, { inputPerMillion: 2, outputPerMillion: 8, cachedInputPerMillion: 0.5 })).toBeCloseTo(
      0.6 * 2 + 0.4 * 0.5 + 8,
    );
    expect(costOf(cached, { inputPerMillion: 2, outputPerMillion: 8 })).toBeCloseTo(10);
    // More cached than prompt tokens (a provider's rounding) never gives a negative input cost.
    expect(
      costOf(
        { ...usage, cachedPromptTokens: 2_000_000 },
        { inputPerMillion: 2, outputPerMillion: 8, cachedInputPerMillion: 1 },
      ),
    ).toBeCloseTo(9);
  });

  test('a Batch API row costs half by default, or the batch columns when given', () => {
    const price = { inputPerMillion: 2, outputPerMillion: 8 };
    expect(costOf(usage, price, 'batch')).toBeCloseTo(5);
    expect(costOf(usage, { ...price, batchInputPerMillion: 1.5, batchOutputPerMillion: 3 }, 'batch')).toBeCloseTo(4.5);
    // Its cached tokens at the cached rate scaled the same way as its input.
    const cached = { ...usage, cachedPromptTokens: 1_000_000 };
    expect(costOf(cached, { ...price, cachedInputPerMillion: 0.5 }, 'batch')).toBeCloseTo(0.25 + 4);
  });

  test("the default table has OpenAI's cached rates for the models that have them", () => {
    expect(DEFAULT_PRICES['gpt-4o-mini'].cachedInputPerMillion).toBe(0.075);
    expect(DEFAULT_PRICES['gpt-4.1'].cachedInputPerMillion).toBe(0.5);
  });

  test('usage adds its cached tokens, and leaves them out when there are none', () => {
    expect(addUsage(usage, { ...usage, cachedPromptTokens: 5 }).cachedPromptTokens).toBe(5);
    expect('cachedPromptTokens' in addUsage(usage, usage)).toBe(false);
  });
});

/**
 * Reading the Temporal SDK's Prometheus metrics, which a worker serves at EVOL_METRICS_ADDRESS: the mean of each
 * histogram, by metric and by the one label that tells its series apart here (the server call's `operation`, the
 * `workflow_type`), summed over every worker scraped; and EvolForge's own counters there (the run store's requests,
 * by `kind`).
 */
import { note } from './proc';

export interface Histogram {
  count: number;
  sum: number;
}

/** `metric` or `metric{label}` (label: the operation or workflow type) -> its histogram's count and sum. */
export type Histograms = Map<string, Histogram>;

const SERIES = /^(\w+)_(sum|count)(?:\{([^}]*)\})?\s+(\S+)$/;

function keyOf(metric: string, labels: string | undefined): string {
  const label = labels && /(?:operation|workflow_type)="([^"]*)"/.exec(labels)?.[1];
  return label ? `${metric}{${label}}` : metric;
}

/** Adds the histograms of one scrape (Prometheus text format) to `into`. */
export function addHistograms(text: string, into: Histograms = new Map()): Histograms {
  for (const line of text.split('\n')) {
    const match = SERIES.exec(line.trim());
    if (!match) continue;
    const [, metric, part, labels, raw] = match;
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    const key = keyOf(metric, labels);
    const histogram = into.get(key) ?? { count: 0, sum: 0 };
    histogram[part as 'sum' | 'count'] += value;
    into.set(key, histogram);
  }
  return into;
}

/** The mean of one histogram, rounded to 0.1, or undefined when it has no observation. */
export function meanOf(histograms: Histograms, key: string): number | undefined {
  const histogram = histograms.get(key);
  if (!histogram || histogram.count === 0) return undefined;
  return Math.round((histogram.sum / histogram.count) * 10) / 10;
}

/** A counter's value by its `kind` label (a series without one is `''`). */
export type Counter = Map<string, number>;

/** Adds the series of counter `metric` in one scrape (with or without a `_total` suffix) to `into`, by `kind`. */
export function addCounter(text: string, metric: string, into: Counter = new Map()): Counter {
  const series = new RegExp(`^${metric}(?:_total)?(?:\\{([^}]*)\\})?\\s+(\\S+)$`);
  for (const line of text.split('\n')) {
    const match = series.exec(line.trim());
    if (!match) continue;
    const value = Number(match[2]);
    if (!Number.isFinite(value)) continue;
    const kind = (match[1] && /(?:^|,)kind="([^"]*)"/.exec(match[1])?.[1]) ?? '';
    into.set(kind, (into.get(kind) ?? 0) + value);
  }
  return into;
}

/** What every worker served at 127.0.0.1:PORT; a worker that does not answer is noted and left out. */
async function scrapes(ports: number[]): Promise<string[]> {
  const texts: string[] = [];
  for (const port of ports) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      texts.push(await response.text());
    } catch (err) {
      note(`could not read the SDK metrics at 127.0.0.1:${port}: ${String(err)}`);
    }
  }
  return texts;
}

/** Every worker's histograms, added together. */
export async function scrapeWorkers(ports: number[]): Promise<Histograms> {
  const histograms: Histograms = new Map();
  for (const text of await scrapes(ports)) addHistograms(text, histograms);
  return histograms;
}

/** Every worker's counters of the given names, added together, by `kind`. */
export async function scrapeCounters(ports: number[], metrics: string[]): Promise<Map<string, Counter>> {
  const texts = await scrapes(ports);
  return new Map(
    metrics.map((metric) => [
      metric,
      texts.reduce((into, text) => addCounter(text, metric, into), new Map<string, number>()),
    ]),
  );
}

/** A mean in ms as the benches print it, n/a when there was no observation. */
export const meanMsText = (value: number | undefined): string => (value === undefined ? 'n/a' : `${value} ms`);

/**
 * What the domain needs to count things: a metric of the catalog, a value, the dimension values
 * it has. The Powertools adapter (metrics/powertools.ts) publishes them as EMF; a domain function
 * given no recorder counts nothing. Pure: no AWS import.
 */
import type { DimensionName, MetricDefinition } from './catalog';

export type MetricDimensions = Partial<Record<DimensionName, string>>;

export interface MetricRecorder {
  /** Records one value of `metric` under each of its dimension sets that `dimensions` has values for. */
  add(metric: MetricDefinition, value: number, dimensions?: MetricDimensions): void;
}

/**
 * The dimension sets a value is published under: each set of the metric whose dimensions all
 * have a value (a launch whose AZ is unknown skips the per-AZ set), as name-value maps.
 */
export function resolveDimensionSets(metric: MetricDefinition, dimensions: MetricDimensions = {}): Record<string, string>[] {
  const sets: Record<string, string>[] = [];
  for (const names of metric.dimensionSets) {
    if (!names.every((n) => typeof dimensions[n] === 'string' && dimensions[n] !== '')) continue;
    sets.push(Object.fromEntries(names.map((n) => [n, dimensions[n] as string])));
  }
  return sets;
}

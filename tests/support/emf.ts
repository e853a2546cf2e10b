/**
 * The EMF a handler writes to stdout while it runs in the test's process, as Lambda would get it
 * (Powertools Metrics writes one document per line to process.stdout). quiet.ts keeps EMF off the
 * test output; `captureEmf` hands a test what its work wrote.
 */
import { emfSamples, onEmf, type EmfDocument, type EmfSample } from '../../scripts/lib/emf';

export async function captureEmf<T>(work: () => Promise<T>): Promise<{ result: T; emf: EmfDocument[]; samples: EmfSample[] }> {
  const emf: EmfDocument[] = [];
  const stop = onEmf((doc) => emf.push(doc));
  try {
    const result = await work();
    return { result, emf, samples: emfSamples(emf) };
  } finally {
    stop();
  }
}

/** The samples of one metric, as `{dimensions: values}` pairs, for compact assertions. */
export function samplesOf(samples: readonly EmfSample[], name: string): { dimensions: Record<string, string>; values: number[]; unit: string }[] {
  return samples.filter((s) => s.name === name).map(({ dimensions, values, unit }) => ({ dimensions, values, unit }));
}

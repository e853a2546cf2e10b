/**
 * Reading CloudWatch embedded metric format (EMF) as the functions write it (Powertools Metrics,
 * one JSON document per line on stdout): parsing, taking it off stdout while something runs in
 * this process (the demo, the tests), and the demo's one-line summary.
 */

export interface EmfDirective {
  readonly Namespace: string;
  readonly Dimensions: string[][];
  readonly Metrics: { readonly Name: string; readonly Unit: string }[];
}

export interface EmfDocument {
  readonly _aws: { readonly Timestamp: number; readonly CloudWatchMetrics: EmfDirective[] };
  readonly [key: string]: unknown;
}

/** One metric value as CloudWatch extracts it: a metric under one dimension set. */
export interface EmfSample {
  readonly namespace: string;
  readonly name: string;
  readonly unit: string;
  readonly dimensions: Record<string, string>;
  readonly values: number[];
}

export function isEmfDocument(value: unknown): value is EmfDocument {
  const aws = (value as { _aws?: { CloudWatchMetrics?: unknown } } | null)?._aws;
  return typeof value === 'object' && value !== null && Array.isArray(aws?.CloudWatchMetrics);
}

function parseLine(line: string): EmfDocument | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return isEmfDocument(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The EMF documents among the lines of `text` (log lines and anything else are skipped). */
export function parseEmfLines(text: string): EmfDocument[] {
  return text.split('\n').flatMap((l) => parseLine(l.trim()) ?? []);
}

/** What CloudWatch makes of the documents: one sample per metric and dimension set of each. */
export function emfSamples(docs: readonly EmfDocument[]): EmfSample[] {
  return docs.flatMap((doc) =>
    doc._aws.CloudWatchMetrics.flatMap((d) =>
      d.Metrics.flatMap((m) =>
        d.Dimensions.map((names) => ({
          namespace: d.Namespace,
          name: m.Name,
          unit: m.Unit,
          dimensions: Object.fromEntries(names.map((n) => [n, String(doc[n])])),
          values: ([] as unknown[]).concat(doc[m.Name]).map(Number),
        })),
      ),
    ),
  );
}

const TAP = Symbol.for('eks-multus-eni.emf-tap');
type Listener = (doc: EmfDocument) => void;
type Tapped = NodeJS.WriteStream & { [TAP]?: Set<Listener> };

/**
 * While at least one listener is registered, EMF lines written to `stream` (process.stdout, where
 * Powertools writes them) go to the listeners instead; every other write passes. Returns the
 * function that removes the listener. One tap per stream, shared by every caller.
 */
export function onEmf(listener: Listener, stream: NodeJS.WriteStream = process.stdout): () => void {
  const tapped = stream as Tapped;
  let listeners = tapped[TAP];
  if (!listeners) {
    const active = (listeners = tapped[TAP] = new Set());
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (active.size > 0 && (typeof chunk === 'string' || chunk instanceof Uint8Array)) {
        const lines = Buffer.from(chunk).toString('utf8').split('\n').filter((l) => l.trim() !== '');
        const docs = lines.map(parseLine);
        if (lines.length > 0 && docs.every((d) => d !== undefined)) {
          for (const doc of docs) for (const l of active) l(doc as EmfDocument);
          const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
          if (callback) process.nextTick(callback);
          return true;
        }
      }
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * One line: per metric (in the order of `order`, then as first seen), its total (counts) or its spread (durations),
 * and, for a metric with a dimension of its own, the split by the first one, e.g.
 * `Launches 7 (attached 6, skipped 1)`. A value is counted once per document, not once per
 * dimension set it is published under.
 */
export function summariseEmf(docs: readonly EmfDocument[], order: readonly string[] = []): string {
  const base = new Set(['service', 'function']);
  const byName = new Map<string, { unit: string; values: number[]; split: string | undefined; parts: Map<string, number> }>();
  const namespaces = new Set<string>();
  for (const doc of docs) {
    for (const d of doc._aws.CloudWatchMetrics) {
      namespaces.add(d.Namespace);
      const own = d.Dimensions.flat().find((n) => !base.has(n));
      for (const m of d.Metrics) {
        const entry = byName.get(m.Name) ?? { unit: m.Unit, values: [] as number[], split: own, parts: new Map<string, number>() };
        byName.set(m.Name, entry);
        const values = ([] as unknown[]).concat(doc[m.Name]).map(Number);
        entry.values.push(...values);
        if (entry.split && doc[entry.split] !== undefined) {
          const key = String(doc[entry.split]);
          entry.parts.set(key, (entry.parts.get(key) ?? 0) + values.reduce((a, b) => a + b, 0));
        }
      }
    }
  }
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  const parts = [...byName].sort(([a], [b]) => rank(a) - rank(b)).map(([name, e]) => {
    if (e.unit !== 'Count') {
      const sorted = [...e.values].sort((a, b) => a - b);
      const unit = e.unit === 'Milliseconds' ? ' ms' : ` ${e.unit}`;
      return `${name} p50 ${percentile(sorted, 50)}${unit}, max ${sorted[sorted.length - 1]}${unit} (${sorted.length} values)`;
    }
    const total = e.values.reduce((a, b) => a + b, 0);
    const split = e.parts.size > 0 ? ` (${[...e.parts].map(([k, v]) => `${k} ${v}`).join(', ')})` : '';
    return `${name} ${total}${split}`;
  });
  return `Metrics emitted (${docs.length} EMF documents, namespace ${[...namespaces].join(', ') || 'none'}): ${parts.join('; ') || 'none'}`;
}

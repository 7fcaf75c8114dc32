/**
 * Where workload instances run. A Workload with `spec.node` puts every replica there; otherwise
 * replica i goes to node (start + i) mod N over the nodes sorted by name, where `start` comes from a
 * hash of the workload's namespace/name — stable when unrelated workloads or nodes come and go
 * (apart from N itself changing). Pure: the translator and `weft up` both call it.
 */
import { createHash } from 'node:crypto';

export interface PlacementInput {
  namespace: string;
  name: string;
  replicas: number;
  node?: string | undefined;
}

export interface Placement {
  /** `<workload>-<index>` */
  instance: string;
  namespace: string;
  workload: string;
  index: number;
  node: string;
}

export function placeInstances(
  workloads: readonly PlacementInput[],
  nodeNames: readonly string[],
): Placement[] {
  const nodes = [...nodeNames].sort();
  const out: Placement[] = [];
  for (const w of workloads) {
    for (let i = 0; i < w.replicas; i++) {
      let node: string | undefined = w.node;
      if (node === undefined) {
        if (nodes.length === 0) continue;
        const start = createHash('sha256').update(`${w.namespace}/${w.name}`).digest().readUInt32BE(0);
        node = nodes[(start + i) % nodes.length];
      }
      out.push({
        instance: `${w.name}-${i}`,
        namespace: w.namespace,
        workload: w.name,
        index: i,
        node: node!,
      });
    }
  }
  return out.sort((a, b) => (a.namespace + '/' + a.instance).localeCompare(b.namespace + '/' + b.instance));
}

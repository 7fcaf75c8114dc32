/**
 * The mesh model the analyser reasons about: exactly what the control plane pushes (api/mesh
 * buildMeshModel). Manifests written for `weft up` usually carry no Node resources (weft up adds
 * node-1..N on 127.0.10.<i>); without nodes no instance exists, so one node like weft up's first is
 * added (sources keep their own instance addresses: that is what policies see as source.ip).
 */
import { buildMeshModel } from '../../api/index.ts';
import type { MeshModel, Resource } from '../../api/index.ts';

export const ANALYSIS_NODE_ADDRESS = '127.0.10.1';

export function analysisModel(resources: readonly Resource[]): MeshModel {
  if (resources.some((r) => r.kind === 'Node')) return buildMeshModel(resources);
  const node: Resource = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1', namespace: '', labels: {}, annotations: {} },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address: ANALYSIS_NODE_ADDRESS }] },
  };
  return buildMeshModel([...resources, node]);
}

/** translate: resources → per-node snapshots (pure). */
export {
  buildMeshModel,
  snapshotFor,
  translate,
  identitiesOnNode,
  canonicalJson,
  contentHash,
  durationSeconds,
  spiffeIdFor,
  appProtocolOf,
  DEFAULT_TUNNEL_PORT,
} from './translate.ts';
export type { MeshModel } from './translate.ts';

/**
 * The local runtime (`weft up`): supervisor, state-directory lock, pids file, readiness waits, the
 * mesh plan and the orchestration of control plane, node proxies and workload instances.
 */
export { LocalMesh, toApplyObject } from './local-mesh.ts';
export type { LocalMeshOptions, DesiredState } from './local-mesh.ts';
export { planMesh, defaultNodes, defaultNodeSubnet, PROXY_ADMIN_PORT } from './plan.ts';
export type {
  MeshPlan,
  PlannedInstance,
  PlannedNode,
  PlannedService,
  PlanOptions,
  Readiness,
} from './plan.ts';
export { Supervisor, backoffDelay, DEFAULT_BACKOFF } from './supervisor.ts';
export type { ProcessSpec, SupervisorEvent, BackoffOptions } from './supervisor.ts';
export { acquireStateLock, pidAlive } from './lock.ts';
export type { StateLock } from './lock.ts';
export { writePidsFile } from './pids.ts';
export type { PidsFile } from './pids.ts';
export { waitReady, probeOnce } from './readiness.ts';
export type { Probe } from './readiness.ts';
export { formatReadyLine, formatSummary, paint } from './summary.ts';

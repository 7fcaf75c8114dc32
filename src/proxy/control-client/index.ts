/** The proxy's connection to the control plane: attestation, push stream, workload signing. */
export { connectControlPlane } from './control-client.ts';
export type {
  ControlPlaneOptions,
  ControlSession,
  ControlSessionState,
  WorkloadCertificate,
} from './control-client.ts';

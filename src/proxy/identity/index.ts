/** Workload identities on the proxy: local keys and CSRs, SVIDs kept renewed. */
export { generateKeyAndCsr, spiffeIdOf, notAfterOf } from './keygen.ts';
export type { KeyAndCsr } from './keygen.ts';
export { IdentityManager } from './identity-manager.ts';
export type { IdentityManagerOptions, Svid, WorkloadSigner } from './identity-manager.ts';

/**
 * The certificate authority: root in the state directory, node certificates after attestation,
 * workload X.509-SVIDs from CSRs, the control plane's serving certificate.
 */
export { CertificateAuthority } from './certificate-authority.ts';
export type {
  CertificateAuthorityOptions,
  SignedCertificate,
  ServingCertificate,
} from './certificate-authority.ts';
export { createAttestor, attestHttpHandler, ensureJoinToken, tokensEqual } from './attestation.ts';
export type { AttestRequest, AttestResponse, AttestorOptions } from './attestation.ts';
export {
  validateSpiffeId,
  validateTrustDomain,
  validateNodeName,
  nodeSpiffeId,
  controlSpiffeId,
  nodeNameFromSpiffeId,
} from './spiffe-id.ts';
export type { ParsedSpiffeId } from './spiffe-id.ts';
export { spiffeIdOfCertificate } from './x509-util.ts';

/** tunnel: HBONE-style mTLS HTTP/2 CONNECT between node proxies. */
export { listenHbone, HboneClient } from './hbone.ts';
export type {
  Credentials,
  TunnelCredentials,
  TunnelStreamInfo,
  TunnelTarget,
  HboneServerOptions,
} from './hbone.ts';
export { sniForSpiffeId, spiffeIdForSni, spiffeIdOfCert } from './identity-names.ts';

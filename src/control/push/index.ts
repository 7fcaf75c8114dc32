/** The push stream to node proxies (gRPC over mTLS) and workload SVID signing. */
export { createPushServer } from './push-server.ts';
export type { PushServer, PushServerOptions, NodeStatus } from './push-server.ts';

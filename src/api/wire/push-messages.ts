/**
 * TypeScript shapes of the push protocol messages in push.proto, as @grpc/proto-loader presents
 * them with PUSH_PROTO_LOADER_OPTIONS (camelCase fields, int64 as number, oneof name in `kind`).
 * Both ends load the .proto at runtime (no codegen) and convert at their edge into these types.
 */
import { fileURLToPath } from 'node:url';

/** Absolute path of push.proto, for @grpc/proto-loader. */
export const PUSH_PROTO_PATH: string = fileURLToPath(new URL('./push.proto', import.meta.url));

/** Options both ends pass to protoLoader.load so the shapes below hold. */
export const PUSH_PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

/** Fully qualified service name. */
export const PUSH_SERVICE = 'weft.push.v1.MeshConfigService';

export interface HelloMessage {
  node: string;
  lastVersion: string;
  proxyVersion: string;
}
export interface AckMessage {
  version: string;
}
export interface NackMessage {
  version: string;
  error: string;
}

export type ProxyMessage =
  | { kind: 'hello'; hello: HelloMessage }
  | { kind: 'ack'; ack: AckMessage }
  | { kind: 'nack'; nack: NackMessage };

export interface SnapshotUpdateMessage {
  version: string;
  revision: number;
  /** The Snapshot as canonical JSON. */
  json: string;
}
export interface TrustBundleMessage {
  pem: string;
}

export type ControlMessage =
  | { kind: 'snapshot'; snapshot: SnapshotUpdateMessage }
  | { kind: 'trustBundle'; trustBundle: TrustBundleMessage };

export interface SignRequest {
  csrPem: string;
  spiffeId: string;
}

export interface SignResponse {
  certificatePem: string;
  chainPem: string;
  /** RFC 3339 UTC. */
  expiresAt: string;
}

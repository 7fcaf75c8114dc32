/**
 * Loads push.proto at runtime with @grpc/proto-loader (no codegen step) and returns the service
 * definition for the server. Loaded once per process.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PUSH_PROTO_LOADER_OPTIONS, PUSH_PROTO_PATH } from '../../api/index.ts';

let cached: grpc.ServiceDefinition | undefined;

export function meshConfigServiceDefinition(): grpc.ServiceDefinition {
  if (cached) return cached;
  const def = protoLoader.loadSync(PUSH_PROTO_PATH, { ...PUSH_PROTO_LOADER_OPTIONS });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    weft: { push: { v1: { MeshConfigService: grpc.ServiceClientConstructor } } };
  };
  cached = pkg.weft.push.v1.MeshConfigService.service;
  return cached;
}

/**
 * weft.dev/v1alpha1 FaultInjection: chaos without code changes. An HTTPRoute or GRPCRoute rule refers
 * to it with an ExtensionRef filter (`{group: weft.dev, kind: FaultInjection, name}`). The shape is
 * Istio's HTTPFaultInjection (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPFaultInjection):
 * a delay (fixedDelay, percentage) and/or an abort (httpStatus or grpcStatus, percentage), each
 * applied to that percentage of requests independently (delay first, then abort, as Envoy's fault
 * filter does). Percentages are doubles in [0, 100], as Istio's `Percent`.
 */
import { dnsSubdomain, goDuration } from '../manifest/formats.ts';
import { type Schema, obj, int, num, oneOf, req, dflt } from '../manifest/schema.ts';
import type { KindDef } from './common.ts';
import { GRPC_STATUS_NAMES } from '../wire/grpc-status.ts';
import type { GrpcStatusName } from '../wire/grpc-status.ts';

export { GRPC_STATUS_NAMES };
export type { GrpcStatusName };

export interface FaultDelay {
  /** How long to hold the request before forwarding it (Istio duration, at least 1ms). */
  fixedDelay: string;
  /** Percentage of requests delayed, 0-100 (fractions allowed). Default 100. */
  percentage: number;
}

export interface FaultAbort {
  /** HTTP status answered instead of forwarding (200-599). One of httpStatus and grpcStatus. */
  httpStatus?: number;
  /** gRPC status name answered (as trailers-only response) instead of forwarding; not OK. */
  grpcStatus?: Exclude<GrpcStatusName, 'OK'>;
  /** Percentage of requests aborted, 0-100 (fractions allowed). Default 100. */
  percentage: number;
}

export interface FaultInjectionSpec {
  delay?: FaultDelay;
  abort?: FaultAbort;
}

const percentage = () => dflt(num({ min: 0, max: 100 }), 100);

const delay = obj<FaultDelay>({
  fixedDelay: req(goDuration({ minMs: 1 })),
  percentage: percentage(),
});

const abort = obj<FaultAbort>(
  {
    httpStatus: int({ min: 200, max: 599 }),
    grpcStatus: oneOf(GRPC_STATUS_NAMES.filter((n) => n !== 'OK') as Exclude<GrpcStatusName, 'OK'>[]),
    percentage: percentage(),
  },
  { exactlyOne: [['httpStatus', 'grpcStatus']] },
);

export const faultInjectionSpec: Schema<FaultInjectionSpec> = obj<FaultInjectionSpec>(
  { delay, abort },
  {
    check: (s, path, cx) => {
      if (s.delay === undefined && s.abort === undefined)
        cx.error(
          path,
          'at least one of delay and abort must be set (a FaultInjection with neither does nothing)',
        );
    },
  },
);

export const faultInjectionKind: KindDef<FaultInjectionSpec> = {
  kind: 'FaultInjection',
  apiVersion: 'weft.dev/v1alpha1',
  apiVersions: ['weft.dev/v1alpha1'],
  namespaced: true,
  name: dnsSubdomain(),
  spec: faultInjectionSpec,
  specRequired: true,
};

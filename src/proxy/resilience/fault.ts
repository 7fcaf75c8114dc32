/**
 * Fault injection from a weft.dev/v1alpha1 FaultInjection (Istio's HTTPFaultInjection semantics,
 * Envoy's fault filter: https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/fault_filter):
 * delay and abort are decided independently, each with its own random draw against its percentage;
 * a delayed request may then also be aborted. Deterministic with an injected random in [0, 1).
 *
 * Injected faults are visible: the forwarder puts the flags below in the access log and a metric
 * label (Envoy's response flags DI = delay injected, FI = fault injected) and sets
 * `x-weft-fault: delay|abort` on the response in debug mode.
 */
import type { FaultInjectionSpec } from '../../api/index.ts';
import { GRPC_STATUS_NAMES, goDurationMs } from '../../api/wire/index.ts';

export const DELAY_INJECTED_FLAG = 'DI';
export const ABORT_INJECTED_FLAG = 'FI';
export const FAULT_HEADER = 'x-weft-fault';

export interface CompiledFault {
  readonly delayMs: number;
  /** Probability in [0, 1] that a request is delayed. */
  readonly delayP: number;
  /** HTTP status of an abort, 0 when the abort is gRPC or absent. */
  readonly abortHttp: number;
  /** gRPC status code of an abort, -1 when the abort is HTTP or absent. */
  readonly abortGrpc: number;
  /** Probability in [0, 1] that a request is aborted. */
  readonly abortP: number;
}

export function compileFault(spec: FaultInjectionSpec): CompiledFault {
  return Object.freeze({
    delayMs: spec.delay ? (goDurationMs(spec.delay.fixedDelay) ?? 0) : 0,
    delayP: spec.delay ? spec.delay.percentage / 100 : 0,
    abortHttp: spec.abort?.httpStatus ?? 0,
    abortGrpc: spec.abort?.grpcStatus !== undefined ? GRPC_STATUS_NAMES.indexOf(spec.abort.grpcStatus) : -1,
    abortP: spec.abort ? spec.abort.percentage / 100 : 0,
  });
}

export interface FaultDecision {
  /** Hold the request this long first; 0 = no delay. */
  readonly delayMs: number;
  /** Answer with this HTTP status instead of forwarding; 0 = no HTTP abort. */
  readonly abortHttp: number;
  /** Answer with this gRPC status (HTTP 200, trailers-only); -1 = no gRPC abort. */
  readonly abortGrpc: number;
}

export const NO_FAULT: FaultDecision = Object.freeze({ delayMs: 0, abortHttp: 0, abortGrpc: -1 });

/**
 * Decide the fault for one request. `random()` is drawn once for the delay (if any) and once for the
 * abort (if any); a draw r applies the fault when r < percentage/100. Returns NO_FAULT (shared,
 * no allocation) when nothing is injected.
 */
export function decideFault(fault: CompiledFault, random: () => number): FaultDecision {
  const delay = fault.delayP > 0 && random() < fault.delayP ? fault.delayMs : 0;
  const abort = fault.abortP > 0 && random() < fault.abortP;
  if (delay === 0 && !abort) return NO_FAULT;
  return {
    delayMs: delay,
    abortHttp: abort ? fault.abortHttp : 0,
    abortGrpc: abort ? fault.abortGrpc : -1,
  };
}

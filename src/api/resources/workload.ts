/**
 * weft.dev/v1alpha1 Workload: Weft's own kind (no upstream one fits) for something that runs in the
 * mesh — like a Deployment's pod template reduced to what the mesh needs: the pod labels services
 * and policies select on, the service account that names its SPIFFE identity, replicas, the node, and
 * how to run it locally (a command, or the built-in echo workload).
 */
import type { Resource } from '../resource.ts';
import { dnsLabel, dnsSubdomain, portNumberOrName } from '../manifest/formats.ts';
import {
  type Schema,
  obj,
  list,
  record,
  str,
  int,
  bool,
  req,
  dflt,
  portNumber,
  oneOf,
  CODES,
} from '../manifest/schema.ts';
import { labels, type KindDef } from './common.ts';

export interface WorkloadRun {
  /** Executable (resolved on PATH by the runtime). */
  command: string;
  args: string[];
  /** Extra environment variables. */
  env: Record<string, string>;
  /** Working directory, relative to the manifest's directory. */
  cwd?: string;
}

export interface WorkloadReadiness {
  httpGet?: { path: string; port: number | string };
  tcpSocket?: { port: number | string };
}

export interface WorkloadSpec {
  /** Pod labels that Services and policies select on. Default: metadata.labels. */
  labels: Record<string, string>;
  /** Names the identity `spiffe://<td>/ns/<ns>/sa/<serviceAccount>`. Default `default`. */
  serviceAccount: string;
  /** Pin every replica to this Node; absent: spread by placement. */
  node?: string;
  /** Number of instances. Default 1. */
  replicas: number;
  /** How to run it: exactly one of `run` and `builtin`. */
  run?: WorkloadRun;
  builtin?: 'echo';
  /** Arguments to the builtin. */
  args?: string[];
  readiness?: WorkloadReadiness;
  ports?: { name: string; containerPort: number }[];
  /** An AI agent: identity `spiffe://<td>/ns/<ns>/agent/<name>` instead of the service account. Default false. */
  agent: boolean;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const run = obj<WorkloadRun>({
  command: req(str({ min: 1 })),
  args: dflt(list(str()), () => []),
  env: dflt(
    record(
      str({
        pattern: ENV_NAME,
        patternHint: 'environment variable names are letters, digits and _, not starting with a digit',
      }),
      str(),
    ),
    () => ({}),
  ),
  cwd: str({ min: 1 }),
});

const readiness = obj<WorkloadReadiness>(
  {
    httpGet: obj({
      path: dflt(str({ pattern: /^\//, patternHint: "must start with '/'" }), '/'),
      port: req(portNumberOrName()),
    }),
    tcpSocket: obj({ port: req(portNumberOrName()) }),
  },
  { exactlyOne: [['httpGet', 'tcpSocket']] },
);

export const workloadSpec: Schema<WorkloadSpec> = obj<WorkloadSpec>(
  {
    labels: labels(),
    serviceAccount: dflt(dnsSubdomain(), 'default'),
    node: dnsSubdomain(),
    replicas: dflt(int({ min: 0, max: 1000 }), 1),
    run,
    builtin: oneOf(['echo'] as const),
    args: list(str()),
    readiness,
    ports: list(obj({ name: req(dnsLabel()), containerPort: req(portNumber()) }), {
      uniqueBy: (p) => (p as { name?: string }).name,
      uniqueWhat: 'port name',
    }),
    agent: dflt(bool(), false),
  },
  {
    exactlyOne: [['run', 'builtin']],
    check: (w, path, cx, raw) => {
      if (w.args !== undefined && w.builtin === undefined)
        cx.error(
          [...path, 'args'],
          "spec.args is for the builtin; put a command's arguments in spec.run.args",
          CODES.value,
          'key',
        );
      const names = new Set((w.ports ?? []).map((p) => p.name));
      const probe = w.readiness?.httpGet ?? w.readiness?.tcpSocket;
      if (probe && typeof probe.port === 'string' && !names.has(probe.port)) {
        const which = w.readiness?.httpGet ? 'httpGet' : 'tcpSocket';
        cx.error(
          [...path, 'readiness', which, 'port'],
          `port name ${JSON.stringify(probe.port)} is not in spec.ports (${[...names].join(', ') || 'none declared'})`,
          CODES.reference,
        );
      }
      void raw;
    },
  },
);

export const workloadKind: KindDef<WorkloadSpec> = {
  kind: 'Workload',
  apiVersion: 'weft.dev/v1alpha1',
  apiVersions: ['weft.dev/v1alpha1'],
  namespaced: true,
  name: dnsLabel(),
  spec: workloadSpec,
  specRequired: true,
  finish: (spec, meta) => {
    spec.labels ??= { ...meta.labels };
    return spec;
  },
};

/** The path part of a workload's SPIFFE ID: `ns/<ns>/sa/<sa>`, or `ns/<ns>/agent/<name>` for agents. */
export function workloadIdentityPath(w: Resource<WorkloadSpec>): string {
  const ns = w.metadata.namespace;
  return w.spec.agent ? `ns/${ns}/agent/${w.metadata.name}` : `ns/${ns}/sa/${w.spec.serviceAccount}`;
}

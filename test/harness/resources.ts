/**
 * Terse builders for the resources mesh tests apply. They produce the same raw objects a user writes
 * in YAML (the control plane validates them), so a test reads like the manifest it stands for.
 */
export function workload(
  name: string,
  node: string,
  opts: { replicas?: number; labels?: Record<string, string> } = {},
) {
  return {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name },
    spec: {
      labels: opts.labels ?? { app: name },
      serviceAccount: name,
      node,
      builtin: 'echo',
      ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
    },
  };
}

export function service(
  name: string,
  ports: { name?: string; port: number; targetPort?: number; appProtocol?: string }[],
  selector: Record<string, string> = { app: name },
) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: {
      selector,
      ports: ports.map((p, i) => ({ name: p.name ?? `p${i}`, appProtocol: 'http', ...p })),
    },
  };
}

/** ALLOW every request to every workload in `default` from the given workloads' identities. */
export function allowFrom(trustDomain: string, callers: string[]) {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'allow-callers' },
    spec: {
      action: 'ALLOW',
      rules: [
        { from: [{ source: { principals: callers.map((c) => `${trustDomain}/ns/default/sa/${c}`) } }] },
      ],
    },
  };
}

export function httpRoute(name: string, parent: { name: string; port?: number }, rules: unknown[]) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name },
    spec: {
      parentRefs: [
        { group: '', kind: 'Service', name: parent.name, ...(parent.port ? { port: parent.port } : {}) },
      ],
      rules,
    },
  };
}

export function grpcRoute(name: string, parent: { name: string; port?: number }, rules: unknown[]) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GRPCRoute',
    metadata: { name },
    spec: {
      parentRefs: [
        { group: '', kind: 'Service', name: parent.name, ...(parent.port ? { port: parent.port } : {}) },
      ],
      rules,
    },
  };
}

export function destinationRule(name: string, host: string, loadBalancer: Record<string, unknown>) {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name },
    spec: { host, trafficPolicy: { loadBalancer } },
  };
}

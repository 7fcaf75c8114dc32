/**
 * Analyser cost (issue "Policy analyser", Scale): verify and diff for 100 / 1,000 / 5,000 workloads
 * with a realistic policy mix — per-namespace defaults (same-namespace callers may GET), per-service
 * allows (the previous service may GET/POST under /api), a mesh-wide DENY on /admin* and a DENY of
 * DELETE from one namespace. Verify checks four invariants (tenant isolation, an onlyFrom on a
 * database, an operation-scoped deny, STRICT mTLS everywhere); diff changes 1 % of the per-service
 * policies. Aim: 1,000 workloads verify in under 5 s. `node bench/micro/analysis/analysis.bench.ts
 * --once` prints one timed run per case with the split between model building, the engine's
 * compile and the class decisions.
 */
import type { Resource } from '../../../src/api/index.ts';
import { analysisModel, createAnalyser, diffPolicies, verifyInvariants } from '../../../src/policy/index.ts';
import type { InvariantInput } from '../../../src/policy/index.ts';
import type { MicroBenchmark } from '../harness.ts';

const NAMESPACES = 20;

function meta(name: string, namespace = 'default'): Resource['metadata'] {
  return { name, namespace, labels: {}, annotations: {} };
}

export function analysisMesh(workloads: number, changed = 0): Resource[] {
  const out: Resource[] = [];
  for (let n = 0; n < 10; n++)
    out.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: meta(`node-${n}`, ''),
      spec: {},
      status: { addresses: [{ type: 'InternalIP', address: `127.0.10.${n + 1}` }] },
    });
  out.push({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: meta('deny-admin', 'weft-system'),
    spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] },
  });
  for (let k = 0; k < NAMESPACES; k++) {
    const ns = `ns-${k}`;
    out.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: meta('same-namespace', ns),
      spec: {
        rules: [{ from: [{ source: { namespaces: [ns] } }], to: [{ operation: { methods: ['GET'] } }] }],
      },
    });
  }
  out.push({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: meta('no-delete-from-ns-3', 'weft-system'),
    spec: {
      action: 'DENY',
      rules: [{ from: [{ source: { namespaces: ['ns-3'] } }], to: [{ operation: { methods: ['DELETE'] } }] }],
    },
  });
  for (let i = 0; i < workloads; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    const name = `svc-${i}`;
    const prev = (i + workloads - 1) % workloads;
    const tcp = i % 10 === 9;
    out.push({
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'Workload',
      metadata: meta(name, ns),
      spec: { labels: { app: name }, serviceAccount: name, replicas: 1, builtin: 'echo' },
    });
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(name, ns),
      spec: {
        selector: { app: name },
        ports: [{ name: tcp ? 'tcp' : 'http', port: 8080, appProtocol: tcp ? 'tcp' : 'http' }],
      },
    });
    const opened = i < changed;
    out.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: meta(name, ns),
      spec: {
        selector: { matchLabels: { app: name } },
        rules: [
          {
            from: [{ source: { principals: [`cluster.local/ns/ns-${prev % NAMESPACES}/sa/svc-${prev}`] } }],
            ...(tcp
              ? {}
              : { to: [{ operation: { methods: ['GET', 'POST'], paths: opened ? ['*'] : ['/api*'] } }] }),
          },
        ],
      },
    });
  }
  return out;
}

export const INVARIANTS: InvariantInput[] = [
  {
    name: 'tenant-isolation',
    namespace: 'default',
    spec: { deny: { from: { namespaces: ['ns-1'] }, to: { namespaces: ['ns-2'] } } },
  },
  {
    name: 'db-only-from-prev',
    namespace: 'default',
    spec: { onlyFrom: { namespaces: ['ns-8'] }, to: { workloads: ['ns-9/svc-9'] } },
  },
  {
    name: 'no-admin',
    namespace: 'default',
    spec: { deny: { operation: { paths: ['/admin*'] }, to: { namespaces: ['ns-5', 'ns-6'] } } },
  },
  { name: 'strict', namespace: 'default', spec: { requireMtls: 'STRICT' } },
];

const sizes = [100, 1_000, 5_000];

export const benchmarks: MicroBenchmark[] = sizes.flatMap((n) => {
  const base = analysisMesh(n);
  const proposed = analysisMesh(n, Math.max(1, Math.floor(n / 100)));
  return [
    {
      name: `analysis: verify 4 invariants, ${n} workloads`,
      fn: () => verifyInvariants(createAnalyser(analysisModel(base)), INVARIANTS).length,
    },
    {
      name: `analysis: diff 1% of policies changed, ${n} workloads`,
      fn: () =>
        diffPolicies(createAnalyser(analysisModel(base)), createAnalyser(analysisModel(proposed))).opened
          .length,
    },
  ];
});

if (process.argv.includes('--once')) {
  for (const n of sizes) {
    const base = analysisMesh(n);
    const proposed = analysisMesh(n, Math.max(1, Math.floor(n / 100)));
    let t = performance.now();
    const model = analysisModel(base);
    const tModel = performance.now() - t;
    t = performance.now();
    const a = createAnalyser(model);
    const tCompile = performance.now() - t;
    t = performance.now();
    const r = verifyInvariants(a, INVARIANTS);
    const tVerify = performance.now() - t;
    t = performance.now();
    const d = diffPolicies(a, createAnalyser(analysisModel(proposed)));
    const tDiff = performance.now() - t;
    console.log(
      `${n} workloads: model ${tModel.toFixed(0)} ms, analyser ${tCompile.toFixed(0)} ms, verify ${tVerify.toFixed(0)} ms ` +
        `(${r.map((x) => `${x.invariant.split('/')[1]}: ${x.checked} classes, ${x.holds ? 'holds' : `${x.violations} violations`}`).join('; ')}), ` +
        `diff incl. proposed model ${tDiff.toFixed(0)} ms (+${d.opened.length} -${d.closed.length})`,
    );
  }
}

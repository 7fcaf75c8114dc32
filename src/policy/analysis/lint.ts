/**
 * Policy lint: findings that are facts about the policy set, each with where it was written and a
 * fix. Rules whose effect depends on requests are decided with the analyser's exact classes:
 * - `selects-nothing`: an AuthorizationPolicy that applies to no workload;
 * - `http-on-tcp`: an ALLOW rule with HTTP-only fields on a workload whose ports are all TCP
 *   (Istio: such a rule matches nothing on TCP);
 * - `foreign-principal`: a principal outside the mesh's trust domain (no SVID can carry it);
 * - `never-decides`: an ALLOW rule that decides no request class from any mesh source — shadowed by
 *   a DENY, redundant with an earlier rule or policy, or naming sources that do not exist;
 * - `permissive-mtls`: a workload port whose mTLS mode is not STRICT;
 * - `broad-allow`: an ALLOW rule open to any principal or namespace into a sensitive namespace (the
 *   root namespace and namespaces labelled `weft.dev/sensitive: "true"`, plus any given).
 */
import type { PolicyObject } from '../../api/wire/snapshot.ts';
import type { Analyser } from './analyser.ts';

export interface LintFinding {
  readonly rule:
    | 'selects-nothing'
    | 'http-on-tcp'
    | 'foreign-principal'
    | 'never-decides'
    | 'permissive-mtls'
    | 'broad-allow';
  readonly severity: 'warning' | 'error';
  /** `Kind ns/name` of the resource the finding is about. */
  readonly resource: string;
  /** Field path inside it, e.g. `spec.rules[1]`. */
  readonly path: string;
  readonly message: string;
  readonly fix: string;
  /** `file:line` when the resource came from a manifest. */
  location?: string;
}

export interface LintOptions {
  readonly sensitiveNamespaces?: readonly string[];
  /** Where a resource was written: (kind, namespace, name) → `file:line`. */
  readonly locate?: (kind: string, namespace: string, name: string) => string | undefined;
}

const HTTP_OPERATION = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];
const HTTP_SOURCE = ['requestPrincipals', 'notRequestPrincipals'];

interface RawRule {
  from?: { source?: Record<string, unknown> }[];
  to?: { operation?: Record<string, unknown> }[];
  when?: { key?: string }[];
}

function rulesOf(p: PolicyObject): RawRule[] {
  const r = (p.spec as { rules?: unknown }).rules;
  return Array.isArray(r) ? (r as RawRule[]) : [];
}

function hasHttp(r: RawRule): boolean {
  if (
    (r.to ?? []).some((t) =>
      HTTP_OPERATION.some(
        (k) => Array.isArray(t?.operation?.[k]) && (t.operation![k] as unknown[]).length > 0,
      ),
    )
  )
    return true;
  if (
    (r.from ?? []).some((f) =>
      HTTP_SOURCE.some((k) => Array.isArray(f?.source?.[k]) && (f.source![k] as unknown[]).length > 0),
    )
  )
    return true;
  return (r.when ?? []).some((c) => typeof c?.key === 'string' && c.key.startsWith('request.'));
}

function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

export function lintPolicies(a: Analyser, opts: LintOptions = {}): LintFinding[] {
  const out: LintFinding[] = [];
  const model = a.model;
  const td = model.mesh.trustDomain;
  const sensitive = new Set([model.mesh.rootNamespace, ...(opts.sensitiveNamespaces ?? [])]);
  for (const n of model.security.namespaces)
    if (n.labels['weft.dev/sensitive'] === 'true') sensitive.add(n.name);

  // Which workloads each policy applies to, and which ALLOW rules decide some class.
  const applies = new Map<string, string[]>();
  for (const d of a.destinations) {
    for (const k of a.authorizer.forWorkload(d.namespace, d.name).policies) {
      const list = applies.get(k) ?? [];
      if (!list.includes(d.workload)) list.push(d.workload);
      applies.set(k, list);
    }
  }
  const decided = new Set<string>();
  const denyHits = new Map<string, Set<string>>();
  for (const dst of a.destinations) {
    for (const port of dst.ports) {
      const set = a.classes(dst, port);
      for (const src of a.sources) {
        for (const c of set.classes) {
          const v = a.decide(src, dst, port, c);
          for (const p of v.policies) {
            if (!p.startsWith('AuthorizationPolicy ')) continue;
            const ref = p.slice('AuthorizationPolicy '.length);
            if (v.allowed) decided.add(ref);
            else {
              const set = denyHits.get(dst.workload) ?? new Set<string>();
              set.add(ref.replace(/ rules\[\d+\]$/, ''));
              denyHits.set(dst.workload, set);
            }
          }
        }
      }
    }
  }

  for (const p of [...model.security.authorizationPolicies].sort((x, y) =>
    `${x.metadata.namespace}/${x.metadata.name}` < `${y.metadata.namespace}/${y.metadata.name}` ? -1 : 1,
  )) {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    const res = `AuthorizationPolicy ${key}`;
    const loc = opts.locate?.('AuthorizationPolicy', p.metadata.namespace, p.metadata.name);
    const push = (f: Omit<LintFinding, 'resource' | 'location'>): void => {
      out.push({ ...f, resource: res, ...(loc ? { location: loc } : {}) });
    };
    const action = String((p.spec as { action?: unknown }).action ?? 'ALLOW');
    const targets = applies.get(key) ?? [];
    if (targets.length === 0) {
      push({
        rule: 'selects-nothing',
        severity: 'warning',
        path: 'spec.selector',
        message: 'applies to no workload in the mesh (its selector or targetRefs select nothing)',
        fix: 'correct the labels in spec.selector.matchLabels (or the Service in targetRefs), or delete the policy',
      });
      continue;
    }
    const tcpOnly = targets.every((w) => {
      const d = a.destinations.find((x) => x.workload === w);
      return d !== undefined && d.ports.length > 0 && d.ports.every((pt) => pt.protocol === 'tcp');
    });
    rulesOf(p).forEach((r, i) => {
      const path = `spec.rules[${i}]`;
      for (const [j, f] of (r.from ?? []).entries()) {
        for (const pr of strs(f?.source?.['principals'])) {
          const bare = pr.replace(/^spiffe:\/\//, '');
          if (bare === '*' || bare.startsWith('*')) continue;
          if (!bare.startsWith(`${td}/`) && !(bare.endsWith('*') && `${td}/`.startsWith(bare.slice(0, -1)))) {
            push({
              rule: 'foreign-principal',
              severity: 'warning',
              path: `${path}.from[${j}].source.principals`,
              message: `principal ${JSON.stringify(pr)} is outside the trust domain ${JSON.stringify(td)}: no workload can present it`,
              fix: `write it as "${td}/ns/<namespace>/sa/<serviceAccount>"`,
            });
          }
        }
      }
      if (action === 'ALLOW' && tcpOnly && hasHttp(r)) {
        push({
          rule: 'http-on-tcp',
          severity: 'warning',
          path,
          message:
            'uses HTTP-only fields, but every port of the workloads it selects is TCP: the rule matches nothing',
          fix: 'drop the HTTP fields (methods, paths, hosts, request.* conditions) or declare the port appProtocol: http',
        });
      } else if (action === 'ALLOW' && !decided.has(`${key} rules[${i}]`)) {
        const denyPolicies = [...new Set(targets.flatMap((w) => [...(denyHits.get(w) ?? [])]))].sort();
        const shadow =
          denyPolicies.length > 0
            ? ` (DENY policies that decide requests here: ${denyPolicies.join(', ')})`
            : '';
        push({
          rule: 'never-decides',
          severity: 'warning',
          path,
          message: `allows no request from any workload in the mesh: it is shadowed by a DENY, redundant with an earlier rule or policy, or names sources that do not exist${shadow}`,
          fix: 'remove the rule, or narrow the DENY that shadows it; `weft policy explain` on a request it was meant for shows which policy decides instead',
        });
      }
      if (action === 'ALLOW') {
        const anySource =
          (r.from ?? []).length === 0 ||
          (r.from ?? []).some((f) => {
            const s = f?.source ?? {};
            const pr = strs(s['principals']);
            const nsv = strs(s['namespaces']);
            const keys = Object.keys(s).filter((k) => strs(s[k]).length > 0);
            return keys.length === 0 || pr.includes('*') || nsv.includes('*');
          });
        const into = targets.filter((w) => sensitive.has(w.split('/')[0] ?? ''));
        if (anySource && into.length > 0) {
          push({
            rule: 'broad-allow',
            severity: 'warning',
            path,
            message: `allows any source into the sensitive namespace ${[...new Set(into.map((w) => w.split('/')[0]))].join(', ')} (workloads ${into.join(', ')})`,
            fix: 'list the principals (or namespaces) that need access in rules[].from[].source',
          });
        }
      }
    });
  }

  const seen = new Set<string>();
  for (const d of a.destinations) {
    for (const port of d.ports) {
      const r = a.authorizer.resolveMtls(d.namespace, d.name, port.port);
      if (r.mode === 'STRICT') continue;
      const k = `${d.workload}:${port.port}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const [pns, pname] = (r.policy ?? '/').split('/');
      const loc = r.policy ? opts.locate?.('PeerAuthentication', pns ?? '', pname ?? '') : undefined;
      out.push({
        rule: 'permissive-mtls',
        severity: 'warning',
        resource: r.policy ? `PeerAuthentication ${r.policy}` : `Workload ${d.workload}`,
        path: 'spec.mtls.mode',
        message: `${d.workload} port ${port.port} accepts ${r.mode === 'DISABLE' ? 'only plaintext' : 'plaintext'} (mode ${r.mode}): ${r.reason}`,
        fix: 'set spec.mtls.mode: STRICT once every client is in the mesh',
        ...(loc ? { location: loc } : {}),
      });
    }
  }
  return out;
}

export function formatLint(findings: readonly LintFinding[]): string {
  const lines = findings.map(
    (f) =>
      `${f.location ?? f.resource}: ${f.severity}: [${f.rule}] ${f.resource} ${f.path}: ${f.message}\n    fix: ${f.fix}`,
  );
  lines.push(findings.length === 0 ? 'no findings' : `${findings.length} findings`);
  return lines.join('\n') + '\n';
}

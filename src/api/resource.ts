/**
 * The resource envelope shared by every kind (Kubernetes-shaped), the table of kinds Weft accepts,
 * and diagnostics. Per-kind schemas live in src/api/resources/<kind>.ts.
 */

export interface ResourceMeta {
  name: string;
  /** '' for cluster-scoped kinds (Namespace, Node, MeshConfig). Defaults to `default` otherwise. */
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Set by the store on first create (RFC 3339); kept across updates. */
  creationTimestamp?: string;
}

/** A validated resource: deep-frozen after parsing. `spec` has the upstream shape with defaults. */
export interface Resource<Spec = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: ResourceMeta;
  spec: Spec;
  /** Only kept for kinds where the user supplies it (v1 Node's `status.addresses`). */
  status?: Record<string, unknown>;
}

/** Where a document came from, for errors and lint findings. */
export interface SourceRef {
  file: string;
  /** 1-based line and column of the document's start. */
  line: number;
  column: number;
}

export type Severity = 'error' | 'warning';

/** One problem found in user input. `format()`: `file:line:col: path: message`. */
export interface Diagnostic {
  severity: Severity;
  /** Stable code, e.g. WEFT_VALIDATION_UNKNOWN_FIELD (catalogued in docs/errors.md). */
  code: string;
  file?: string;
  line?: number;
  column?: number;
  /** Field path inside the document, e.g. `spec.rules[0].matches[1].path.type`. */
  path: string;
  message: string;
}

/** `kind/namespace/name`, the identity of a resource in the store. */
export function resourceKey(r: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}:${d.line ?? 1}:${d.column ?? 1}: ` : '';
  const path = d.path ? `${d.path}: ` : '';
  const sev = d.severity === 'warning' ? 'warning: ' : '';
  return `${where}${sev}${path}${d.message}`;
}

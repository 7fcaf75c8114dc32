/**
 * `weft get KIND [NAME...] [-n NS | -A] [-o yaml|json|wide]`: show stored resources, the way
 * kubectl does: a table by default; `-o yaml|json` prints documents that `weft apply -f` takes back
 * (a `kind: List` for several; the store's revision as `metadata.resourceVersion`, which the parser
 * accepts and drops). Kind names are case-insensitive, singular or plural, or a short name.
 */
import { stringify } from 'yaml';
import type { StoredResource } from '../api/client/index.ts';
import { KINDS } from '../api/index.ts';
import type { KindInfo } from '../api/index.ts';
import { WeftError } from '../lib/index.ts';
import {
  CLIENT_FLAGS_USAGE,
  UsageError,
  clientFor,
  formatAge,
  formatTable,
  parseVerbArgs,
  runClientVerb,
} from './client-config.ts';
import type { CliIo, Verb } from './io.ts';

const USAGE =
  'usage: weft get KIND [NAME...] [-n NS | -A] [-o yaml|json|wide] [--state-dir DIR | --server URL]\n' +
  '  KIND              e.g. services (svc), workloads, httproutes, destinationrules (dr),\n' +
  '                    authorizationpolicies (ap), peerauthentications (pa), networkpolicies (netpol),\n' +
  '                    nodes (no), namespaces (ns), meshconfigs\n' +
  '  -n, --namespace   namespace (default: default)\n' +
  '  -A, --all-namespaces\n' +
  '  -o, --output      yaml, json or wide (default: a table)\n' +
  CLIENT_FLAGS_USAGE;

/** Short names kubectl users know (and Weft's own). */
const SHORT_NAMES: Record<string, string> = {
  svc: 'Service',
  dr: 'DestinationRule',
  ap: 'AuthorizationPolicy',
  pa: 'PeerAuthentication',
  netpol: 'NetworkPolicy',
  ns: 'Namespace',
  no: 'Node',
  wl: 'Workload',
  httproute: 'HTTPRoute',
  grpcroute: 'GRPCRoute',
};

function plural(kind: string): string {
  const k = kind.toLowerCase();
  return k.endsWith('y') ? `${k.slice(0, -1)}ies` : `${k}s`;
}

/** The kind a user typed (`svc`, `Services`, `httproute`…), or WEFT_CLI_UNKNOWN_KIND. */
export function resolveKind(input: string): KindInfo {
  const want = input.toLowerCase();
  const short = SHORT_NAMES[want];
  const found = KINDS.find(
    (k) => k.kind === short || k.kind.toLowerCase() === want || plural(k.kind) === want,
  );
  if (!found) {
    throw new WeftError(
      'WEFT_CLI_UNKNOWN_KIND',
      `unknown kind "${input}"; known kinds: ${KINDS.map((k) => k.kind).join(', ')}`,
    );
  }
  return found;
}

/** A stored resource as a manifest: bookkeeping moved into metadata.resourceVersion. */
export function asManifest(r: StoredResource): Record<string, unknown> {
  const { revision, createRevision: _c, ...rest } = r;
  const { namespace, ...meta } = rest.metadata;
  // Cluster-scoped resources have no namespace in a manifest.
  return {
    ...rest,
    metadata: { ...(namespace ? { namespace } : {}), ...meta, resourceVersion: String(revision) },
  };
}

type Column = [header: string, cell: (r: StoredResource) => string];

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** A few kind-specific columns, like kubectl's printers. */
function kindColumns(kind: string): Column[] {
  const spec = (r: StoredResource) => r.spec as Record<string, unknown>;
  switch (kind) {
    case 'Service':
      return [
        [
          'PORTS',
          (r) =>
            (
              (spec(r).ports as { port?: number; appProtocol?: string; protocol?: string }[] | undefined) ??
              []
            )
              .map((p) => `${str(p.port)}/${p.appProtocol ?? p.protocol ?? 'TCP'}`)
              .join(','),
        ],
      ];
    case 'Workload':
      return [
        ['REPLICAS', (r) => str(spec(r).replicas)],
        ['SERVICE-ACCOUNT', (r) => str(spec(r).serviceAccount)],
      ];
    case 'Node':
      return [
        [
          'ADDRESS',
          (r) =>
            str(
              ((r.status?.addresses as { type?: string; address?: string }[] | undefined) ?? []).find(
                (a) => a.type === 'InternalIP',
              )?.address,
            ),
        ],
      ];
    case 'HTTPRoute':
    case 'GRPCRoute':
      return [
        [
          'PARENTS',
          (r) =>
            ((spec(r).parentRefs as { name?: string }[] | undefined) ?? []).map((p) => str(p.name)).join(','),
        ],
        ['HOSTNAMES', (r) => ((spec(r).hostnames as string[] | undefined) ?? []).join(',')],
      ];
    default:
      return [];
  }
}

export const get: Verb = (io: CliIo) =>
  runClientVerb('get', USAGE, io, async () => {
    const { values, positionals } = parseVerbArgs(io.argv, {
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      output: { type: 'string', short: 'o' },
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const [kindArg, ...names] = positionals;
    if (!kindArg) throw new UsageError('KIND is required');
    const output = (values.output as string | undefined) ?? 'table';
    if (!['table', 'wide', 'yaml', 'json'].includes(output)) {
      throw new UsageError(`-o must be yaml, json or wide, not ${JSON.stringify(output)}`);
    }
    const all = values['all-namespaces'] === true;
    if (all && names.length > 0) throw new UsageError('-A lists every resource of a kind; leave out NAME');
    const info = resolveKind(kindArg);
    const namespace = info.namespaced ? ((values.namespace as string | undefined) ?? 'default') : '';
    const client = clientFor(io, values as { 'state-dir'?: string; server?: string });

    let items: StoredResource[];
    if (names.length > 0) {
      items = [];
      const missing: string[] = [];
      for (const name of names) {
        const r = await client.get(info.kind, namespace, name);
        if (r) items.push(r);
        else missing.push(name);
      }
      if (missing.length > 0) {
        const where = info.namespaced ? ` in namespace "${namespace}"` : '';
        throw new WeftError(
          'WEFT_RESOURCE_NOT_FOUND',
          missing.map((n) => `${info.kind} "${n}" not found${where}`).join('; '),
        );
      }
    } else {
      items = (await client.list({ kind: info.kind, ...(all || !info.namespaced ? {} : { namespace }) }))
        .items;
    }

    if (output === 'json' || output === 'yaml') {
      const doc =
        names.length === 1
          ? asManifest(items[0]!)
          : { apiVersion: 'v1', kind: 'List', items: items.map(asManifest) };
      io.stdout.write(output === 'json' ? JSON.stringify(doc, null, 2) + '\n' : stringify(doc));
      return 0;
    }
    if (items.length === 0) {
      io.stderr.write(
        info.namespaced && !all ? `No resources found in ${namespace} namespace.\n` : 'No resources found.\n',
      );
      return 0;
    }
    // The CLI is the edge: wall-clock time only for the AGE column.
    const now = Date.now();
    const columns: Column[] = [
      ...(all && info.namespaced ? ([['NAMESPACE', (r) => r.metadata.namespace]] as Column[]) : []),
      ['NAME', (r) => r.metadata.name],
      ...kindColumns(info.kind),
      ['AGE', (r) => formatAge(r.metadata.creationTimestamp, now)],
      ...(output === 'wide'
        ? ([
            ['REVISION', (r) => String(r.revision)],
            [
              'LABELS',
              (r) =>
                Object.entries(r.metadata.labels ?? {})
                  .map(([k, v]) => `${k}=${v}`)
                  .join(',') || '<none>',
            ],
          ] as Column[])
        : []),
    ];
    io.stdout.write(
      formatTable(
        columns.map((c) => c[0]),
        items.map((r) => columns.map((c) => c[1](r))),
      ),
    );
    return 0;
  });

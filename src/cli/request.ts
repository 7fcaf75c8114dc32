/**
 * `weft request --from <workload> [-n NS] [-X M] [-H 'k: v'] [-d body] [--http2] [-o json] <url>`:
 * send a request as a workload, through the mesh. The URL's host names a Service (`reviews`,
 * `reviews.default`, `reviews.default.svc`, `reviews.default.svc.cluster.local`, optionally with a
 * port); the request goes to the capture address the node proxy keeps for (instance 0 of the
 * workload → that service), so the proxy treats it exactly like a call the workload itself made.
 * Addresses are computed from the control plane's resources with the same pure placement and
 * addressing functions the translator uses (docs/architecture.md, "Capture").
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { StoredResource } from '../api/client/index.ts';
import { captureKey, meshAddresses, meshSettingsOf, placeInstances } from '../api/index.ts';
import type { Resource, ServiceSpec, WorkloadSpec } from '../api/index.ts';
import { WeftError, errorMessage } from '../lib/index.ts';
import { CLIENT_FLAGS_USAGE, UsageError, clientFor, parseVerbArgs, runClientVerb } from './client-config.ts';
import type { CliIo, Verb } from './io.ts';

const USAGE = `usage: weft request --from <workload> [-n NS] [-X METHOD] [-H 'name: value' ...] [-d BODY]
                    [--http2] [-o json] [--timeout MS] <url>

Sends a request as <workload> (instance 0) through its node proxy. The URL's host is a Service:
name, name.namespace or name.namespace.svc.<domain>, with an optional port (default: the first).
  --from W        the calling workload (required)
  -n, --namespace the calling workload's namespace (default "default")
  -X, --method    HTTP method (default GET, or POST with -d)
  -H, --header    request header, repeatable
  -d, --data      request body
  --http2         HTTP/2 with prior knowledge instead of HTTP/1.1
  -o json         print {status, headers, body} as JSON
${CLIENT_FLAGS_USAGE}`;

export interface RequestTarget {
  /** The capture address and port to connect to. */
  address: string;
  port: number;
  /** The calling instance. */
  instance: string;
  service: { namespace: string; name: string; port: number };
}

/**
 * Where a request from `from` (namespace `namespace`) to `url` goes: pure, over the mesh's resources.
 * Throws WEFT_REQUEST_UNKNOWN_WORKLOAD / WEFT_REQUEST_UNKNOWN_SERVICE with the names that exist.
 */
export function resolveRequestTarget(
  resources: readonly Resource[],
  from: string,
  namespace: string,
  url: URL,
): RequestTarget {
  const workloads = resources.filter((r) => r.kind === 'Workload') as unknown as Resource<WorkloadSpec>[];
  const services = resources.filter((r) => r.kind === 'Service') as unknown as Resource<ServiceSpec>[];
  const nodes = resources.filter((r) => r.kind === 'Node').map((r) => r.metadata.name);
  const w = workloads.find((x) => x.metadata.name === from && x.metadata.namespace === namespace);
  if (!w) {
    const names = workloads.map((x) => `${x.metadata.namespace}/${x.metadata.name}`).sort();
    throw new WeftError(
      'WEFT_REQUEST_UNKNOWN_WORKLOAD',
      `no workload "${from}" in namespace "${namespace}"; workloads: ${names.join(', ') || 'none'} (use -n for another namespace)`,
    );
  }
  const labels = url.hostname.toLowerCase().split('.');
  const svcName = labels[0] ?? '';
  const svcNs = labels.length >= 2 && labels[1] !== '' ? labels[1]! : namespace;
  const okSuffix = labels.length <= 2 || labels[2] === 'svc';
  const svc = okSuffix
    ? services.find((s) => s.metadata.name === svcName && s.metadata.namespace === svcNs)
    : undefined;
  if (!svc) {
    const names = services.map((s) => `${s.metadata.name}.${s.metadata.namespace}`).sort();
    throw new WeftError(
      'WEFT_REQUEST_UNKNOWN_SERVICE',
      `"${url.hostname}" names no service (looked for ${svcName} in namespace ${svcNs}); services: ${names.join(', ') || 'none'}`,
    );
  }
  const port = url.port === '' ? svc.spec.ports[0]?.port : Number(url.port);
  if (port === undefined || !svc.spec.ports.some((p) => p.port === port)) {
    throw new WeftError(
      'WEFT_REQUEST_UNKNOWN_SERVICE',
      `service ${svc.metadata.name}.${svc.metadata.namespace} has no port ${url.port}; ports: ${svc.spec.ports.map((p) => p.port).join(', ')}`,
    );
  }
  const placements = placeInstances(
    workloads.map((x) => ({
      namespace: x.metadata.namespace,
      name: x.metadata.name,
      replicas: x.spec.replicas,
      node: x.spec.node,
    })),
    nodes,
  );
  const instance = placements.find((p) => p.namespace === namespace && p.workload === from && p.index === 0);
  if (!instance) {
    throw new WeftError(
      'WEFT_REQUEST_UNKNOWN_WORKLOAD',
      `workload ${namespace}/${from} has no running instance (replicas 0, or no nodes)`,
    );
  }
  const addresses = meshAddresses(
    placements,
    services.map((s) => ({ namespace: s.metadata.namespace, name: s.metadata.name })),
    meshSettingsOf(resources).trustDomain,
  );
  const address = addresses.capture.get(captureKey(instance, svc.metadata))!;
  return {
    address,
    port,
    instance: instance.instance,
    service: { namespace: svc.metadata.namespace, name: svc.metadata.name, port },
  };
}

export interface RequestResult {
  status: number;
  statusText: string;
  httpVersion: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Sends one request to `target` with `Host`/`:authority` set to the URL's host. */
export function sendRequest(
  target: { address: string; port: number },
  url: URL,
  opts: { method: string; headers: Record<string, string>; body?: string; http2: boolean; timeoutMs: number },
): Promise<RequestResult> {
  const path = `${url.pathname}${url.search}`;
  if (!opts.http2) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: target.address,
          port: target.port,
          method: opts.method,
          path,
          headers: { host: url.host, ...opts.headers },
          agent: false,
          timeout: opts.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? '',
              httpVersion: `HTTP/${res.httpVersion}`,
              headers: res.headers as Record<string, string | string[]>,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(opts.body);
    });
  }
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${target.address}:${target.port}`);
    session.on('error', reject);
    const timer = setTimeout(() => {
      session.destroy(new Error(`no answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    const stream = session.request({
      ':method': opts.method,
      ':path': path,
      ':authority': url.host,
      ...opts.headers,
    });
    let headers: Record<string, string | string[]> = {};
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      headers = {};
      for (const [k, v] of Object.entries(h))
        if (!k.startsWith(':') && v !== undefined) headers[k] = v as string | string[];
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({
        status,
        statusText: http.STATUS_CODES[status] ?? '',
        httpVersion: 'HTTP/2',
        headers,
        body: Buffer.concat(chunks),
      });
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    });
    stream.end(opts.body);
  });
}

export const request: Verb = (io: CliIo) =>
  runClientVerb('request', USAGE, io, async () => {
    const { values, positionals } = parseVerbArgs(io.argv, {
      from: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      method: { type: 'string', short: 'X' },
      header: { type: 'string', short: 'H', multiple: true },
      data: { type: 'string', short: 'd' },
      http2: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      timeout: { type: 'string' },
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const from = values.from as string | undefined;
    if (!from) throw new UsageError('--from <workload> is required');
    if (positionals.length !== 1) throw new UsageError('exactly one URL is required');
    const output = values.output as string | undefined;
    if (output !== undefined && output !== 'json')
      throw new UsageError(`-o ${output}: only -o json is supported`);
    const timeoutMs = values.timeout === undefined ? 30_000 : Number(values.timeout);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new UsageError('--timeout must be a positive number of ms');
    const raw = positionals[0]!;
    let url: URL;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
    } catch {
      throw new UsageError(`"${raw}" is not a URL (e.g. http://reviews:9080/reviews/1)`);
    }
    if (url.protocol !== 'http:')
      throw new UsageError(`${url.protocol} URLs are not supported; use http:// (the mesh adds mTLS)`);
    const headers: Record<string, string> = {};
    for (const h of (values.header as string[] | undefined) ?? []) {
      const i = h.indexOf(':');
      if (i <= 0) throw new UsageError(`-H "${h}" is not "name: value"`);
      headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
    }
    const data = values.data as string | undefined;
    const method = (
      (values.method as string | undefined) ?? (data !== undefined ? 'POST' : 'GET')
    ).toUpperCase();
    const client = clientFor(io, values as { 'state-dir'?: string; server?: string });
    const list = await client.list();
    const target = resolveRequestTarget(
      list.items as StoredResource[],
      from,
      (values.namespace as string) ?? 'default',
      url,
    );
    let res: RequestResult;
    try {
      res = await sendRequest(target, url, {
        method,
        headers,
        ...(data !== undefined ? { body: data } : {}),
        http2: values.http2 === true,
        timeoutMs,
      });
    } catch (err) {
      throw new WeftError(
        'WEFT_REQUEST_FAILED',
        `request from ${target.instance} to ${target.service.name}.${target.service.namespace}:${target.service.port} (via ${target.address}:${target.port}) failed: ${errorMessage(err)}; is the mesh running (weft status)?`,
        { cause: err },
      );
    }
    const text = res.body.toString('utf8');
    if (output === 'json') {
      let body: unknown = text;
      const ct = String(res.headers['content-type'] ?? '');
      if (ct.includes('json') || /^\s*[[{]/.test(text)) {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = text;
        }
      }
      io.stdout.write(JSON.stringify({ status: res.status, headers: res.headers, body }, null, 2) + '\n');
    } else {
      io.stdout.write(`${res.httpVersion} ${res.status} ${res.statusText}\n`);
      for (const [k, v] of Object.entries(res.headers))
        for (const x of Array.isArray(v) ? v : [v]) io.stdout.write(`${k}: ${x}\n`);
      io.stdout.write('\n' + text + (text.endsWith('\n') || text === '' ? '' : '\n'));
    }
    return 0;
  });

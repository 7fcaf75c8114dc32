/**
 * Weft in the data-path benchmark, written against the contract in docs/architecture.md and the
 * runtime's: `weft up -f <dir> --nodes 2 --state-dir <dir>` prints a ready line, writes
 * `<stateDir>/pids.json` ({control, proxies: {node-1: pid, ...}, instances: {"ns/instance": pid}}),
 * gives each instance WEFT_LISTEN_ADDR/WEFT_PORTS, and listens for loadgen-0's outbound connections
 * to a service on that pair's capture address (its trust domain's capture block, src/api/mesh/addressing.ts) on each service port. The capture
 * address is computed with the same pure function the translator uses (meshAddresses from src/api),
 * from the manifest in bench/macro/weft-mesh/.
 *
 * weft-l4 aims at Service `upstream` (appProtocol tcp), weft-l7 at `upstream-http` (appProtocol
 * http, HTTPRoute + L7 AuthorizationPolicy). Proxy pids come from pids.json; the proxy of the
 * loadgen's node is pinned like proxy A, the upstream's node proxy and instance like B/upstream.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { meshAddresses, placeInstances } from '../../src/api/index.ts';
import { waitForHttp, type BenchCase, type CaseContext, type CaseHandle } from './cases.ts';
import { isAlive, pinRunning, type ProcessSet, type Started } from './proc.ts';

export const MESH_DIR = 'bench/macro/weft-mesh';
const NODES = ['node-1', 'node-2'];

interface MeshDoc {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: {
    node?: string;
    replicas?: number;
    trustDomain?: string;
    ports?: { port?: number; appProtocol?: string }[];
  };
}

/** Where loadgen-0 reaches `service` through its node proxy, computed from the manifest text. */
export function captureTarget(
  manifest: string,
  service: string,
  source = 'loadgen',
): { host: string; port: number } {
  const docs = parseAllDocuments(manifest)
    .map((d) => d.toJS() as MeshDoc | null)
    .filter((d): d is MeshDoc => d !== null);
  const ns = (d: MeshDoc): string => d.metadata?.namespace ?? 'default';
  const trustDomain = docs.find((d) => d.kind === 'MeshConfig')?.spec?.trustDomain ?? 'cluster.local';
  const workloads = docs.filter((d) => d.kind === 'Workload');
  const services = docs.filter((d) => d.kind === 'Service');
  const placements = placeInstances(
    workloads.map((w) => ({
      namespace: ns(w),
      name: w.metadata?.name ?? '',
      replicas: w.spec?.replicas ?? 1,
      node: w.spec?.node,
    })),
    NODES,
  );
  const addrs = meshAddresses(
    placements,
    services.map((s) => ({ namespace: ns(s), name: s.metadata?.name ?? '' })),
    trustDomain,
  );
  const svc = services.find((s) => s.metadata?.name === service);
  const port = svc?.spec?.ports?.[0]?.port;
  const host = addrs.capture.get(`default/${source}-0>default/${service}`);
  if (!svc || port === undefined || !host)
    throw new Error(`manifest has no capture address for ${source}-0 → ${service}`);
  return { host, port };
}

interface PidsJson {
  control?: number;
  proxies?: Record<string, number>;
  instances?: Record<string, number>;
}

function readPids(stateDir: string): PidsJson | null {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'pids.json'), 'utf8')) as PidsJson;
  } catch {
    return null;
  }
}

function weftCase(name: 'weft-l4' | 'weft-l7', service: string, description: string): BenchCase {
  let up: Started | undefined;
  let procs: ProcessSet | undefined;
  let stateDir = '';
  return {
    name,
    kind: 'weft',
    description,
    available() {
      const root = join(import.meta.dirname, '..', '..');
      const missing = ['src/bin/up.ts', 'src/bin/control.ts', 'src/bin/proxy.ts', 'src/runtime'].filter(
        (f) => !existsSync(join(root, f)),
      );
      return Promise.resolve(
        missing.length ? `weft up is not runnable yet (missing ${missing.join(', ')})` : true,
      );
    },
    async start(ctx: CaseContext): Promise<CaseHandle> {
      procs = ctx.procs;
      const meshDir = join(ctx.repoRoot, MESH_DIR);
      const template = readFileSync(join(meshDir, 'mesh.yaml'), 'utf8');
      stateDir = join(ctx.workDir, `weft-state-${name}`);
      rmSync(stateDir, { recursive: true, force: true });
      const logFile = join(ctx.workDir, 'logs', `${name}-up.log`);
      writeFileSync(logFile, '');
      // Measure what users run: the built JavaScript (scripts/build.ts), rebuilt if src changed.
      execFileSync(ctx.nodeBin, [join(ctx.repoRoot, 'scripts/build.ts')], {
        cwd: ctx.repoRoot,
        stdio: 'ignore',
      });
      up = ctx.procs.start(
        name,
        ctx.nodeBin,
        [join(ctx.repoRoot, 'bin/weft.mjs'), 'up', '-f', meshDir, '--nodes', '2', '--state-dir', stateDir],
        {
          cwd: ctx.repoRoot,
          logFile,
          cpus: null,
          graceMs: 15_000,
        },
      );
      // Ready = the ready line, and pids.json naming both proxies and the upstream instance (≤ 60 s).
      const end = Date.now() + 60_000;
      let pids: PidsJson | null = null;
      for (;;) {
        if (!isAlive(up.pid) || !ctx.procs.started.has(up.pid)) {
          throw new Error(
            `weft up exited before the mesh was ready; see ${logFile}: ${readFileSync(logFile, 'utf8').slice(-400)}`,
          );
        }
        pids = readPids(stateDir);
        const ready = /mesh ready/.test(readFileSync(logFile, 'utf8'));
        if (
          ready &&
          pids?.proxies?.[NODES[0]!] &&
          pids.proxies[NODES[1]!] &&
          pids.instances?.['default/upstream-0']
        )
          break;
        if (Date.now() > end)
          throw new Error(
            `weft up not ready within 60 s (ready line: ${ready}, pids.json: ${JSON.stringify(pids)}); see ${logFile}`,
          );
        await new Promise((r) => setTimeout(r, 200));
      }
      // Current pids from pids.json (weft up restarts crashed processes); new ones get pinned.
      const pinned = new Set<number>();
      const refresh = (): { pids: number[]; upstreamPid: number } | null => {
        const p = readPids(stateDir);
        const a = p?.proxies?.[NODES[0]!];
        const b = p?.proxies?.[NODES[1]!];
        const u = p?.instances?.['default/upstream-0'];
        if (!a || !b || !u) return null;
        for (const [pid, cpus] of [
          [a, ctx.pins.a],
          [b, ctx.pins.b],
          [u, ctx.pins.up],
        ] as const) {
          if (!pinned.has(pid)) pinRunning(pid, cpus);
          pinned.add(pid);
        }
        return { pids: [a, b], upstreamPid: u };
      };
      const target = captureTarget(template, service);
      await waitForHttp(target.host, target.port, 20_000, () => isAlive(up!.pid));
      const now = refresh();
      if (!now || !now.pids.every(isAlive))
        throw new Error(
          `pids.json names proxies that are not running: ${JSON.stringify(readPids(stateDir))}`,
        );
      return {
        targetHost: target.host,
        targetPort: target.port,
        pids: now.pids,
        pidLabels: [NODES[0]!, NODES[1]!],
        upstreamPid: now.upstreamPid,
        refresh,
      };
    },
    async stop() {
      const p = procs;
      const u = up;
      up = undefined;
      if (!p || !u) return;
      const pids = readPids(stateDir);
      await p.stop(u);
      // weft up stops its children; anything of its tree still alive is a runtime bug worth seeing.
      const left = Object.values({
        ...pids?.proxies,
        ...pids?.instances,
        control: pids?.control ?? 0,
      }).filter((x) => x > 0 && isAlive(x));
      if (left.length) {
        process.stderr.write(
          `bench: ${name}: processes left behind by weft up: ${left.join(', ')}; stopping them\n`,
        );
        for (const pid of left) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    },
  };
}

export const weftCases: BenchCase[] = [
  weftCase(
    'weft-l4',
    'upstream',
    'Weft node proxies, Service appProtocol tcp: authorize and pipe over the HBONE tunnel',
  ),
  weftCase(
    'weft-l7',
    'upstream-http',
    'Weft node proxies, Service appProtocol http: HTTPRoute + L7 AuthorizationPolicy',
  ),
];

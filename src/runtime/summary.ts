/**
 * What `weft up` prints once the mesh is ready: one ready line (tests and scripts wait for it:
 * `weft: mesh ready in 1.8s — N nodes, M workloads, K services (state: DIR)`), then where
 * everything is: the control plane, each node proxy with its instances, each service with the
 * local addresses it routes to. Colour only when asked for (a TTY without NO_COLOR).
 */
import type { MeshPlan } from './plan.ts';

const CODES = { dim: 2, bold: 1, red: 31, green: 32, yellow: 33, magenta: 35, cyan: 36 } as const;
export type Colour = keyof typeof CODES;

export function paint(s: string, colour: Colour, enabled: boolean): string {
  return enabled ? `\u001b[${CODES[colour]}m${s}\u001b[0m` : s;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

export function formatReadyLine(seconds: number, plan: MeshPlan, stateDir: string, colour: boolean): string {
  const line = `weft: mesh ready in ${seconds.toFixed(1)}s — ${plural(plan.nodes.length, 'node')}, ${plural(plan.workloads, 'workload')}, ${plural(plan.services.length, 'service')} (state: ${stateDir})`;
  return paint(line, 'bold', colour);
}

export function formatSummary(
  plan: MeshPlan,
  o: {
    apiUrl: string;
    tokenFile: string;
    logsDir: string;
    tunnelPort: (node: string) => number;
    color: boolean;
  },
): string {
  const c = (s: string, k: Colour) => paint(s, k, o.color);
  const out: string[] = [];
  out.push(`  ${c('control plane', 'cyan')}  ${o.apiUrl}  (token: ${o.tokenFile}, logs: ${o.logsDir}/)`);
  for (const n of plan.nodes) {
    out.push(`  ${c(n.name, 'cyan')}  tunnel ${n.address}:${o.tunnelPort(n.name)}  admin http://${n.admin}`);
    const here = plan.instances.filter((i) => i.node === n.name);
    const w = Math.max(0, ...here.map((i) => i.key.length));
    for (const i of here) {
      const ports = i.ports.length
        ? i.ports.map((p) => `${i.address}:${p}`).join(', ')
        : `${i.address} (no service ports)`;
      out.push(`    ${i.key.padEnd(w)}  ${ports}`);
    }
    if (here.length === 0) out.push(`    ${c('(no instances)', 'dim')}`);
  }
  if (plan.services.length > 0) {
    out.push(`  ${c('services', 'cyan')}`);
    const w = Math.max(...plan.services.map((s) => `${s.namespace}/${s.name}`.length));
    for (const s of plan.services) {
      const ports = s.ports.map((p) => `:${p.port}`).join(',');
      const eps = s.endpoints.length
        ? s.endpoints
            .map((e) => `${e.instance} ${e.address}:${s.ports.map((p) => p.targetPort).join(',')}`)
            .join(', ')
        : c('no endpoints', 'yellow');
      out.push(`    ${`${s.namespace}/${s.name}`.padEnd(w)}  ${ports.padEnd(6)} → ${eps}`);
    }
  }
  out.push(
    c(
      `  try: weft request --from <workload> --state-dir ${o.tokenFile.replace(/\/token$/, '')} http://<service>/   (Ctrl-C stops everything)`,
      'dim',
    ),
  );
  return out.join('\n') + '\n';
}

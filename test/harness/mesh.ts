/**
 * A real mesh for integration tests: `weft control` and one `weft proxy` per node as child processes
 * on loopback (or, for tests that need to steer time, the proxies in this process on an injected
 * clock), resources applied through the ControlClient, and a wait until every proxy has applied and
 * acknowledged the latest snapshot.
 *
 * Isolation, so test files can run in parallel: each mesh has its own trust domain (instance and
 * capture addresses are salted by it, see src/api/mesh/addressing.ts), its own state directory, and
 * its own node tunnel addresses 127.0.<subnet>.<1..N> (pass a distinct `subnet` per test file, 30+k).
 * The control plane's ports are chosen once and kept, so a restarted control plane is found again by
 * the proxies at the same address.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ControlClient } from '../../src/api/client/index.ts';
import type { InstanceEntry, Snapshot } from '../../src/api/index.ts';
import type { Clock } from '../../src/lib/index.ts';
import { createLogger } from '../../src/lib/index.ts';
import { NodeProxy } from '../../src/proxy/node-proxy.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const WEFT = join(ROOT, 'src/bin/weft.ts');
/** Tunnel port of every node (addresses differ per node). */
export const TUNNEL_PORT = 15008;

export interface StartMeshOptions {
  /** Unique per test file: salts every mesh address and names the CA. */
  trustDomain: string;
  /** Third octet of the node tunnel addresses: 127.0.<subnet>.<i+1>. Unique per test file (30+k). */
  subnet: number;
  /** Node names, in order (default `node-0`, `node-1`). */
  nodes?: string[];
  /** Everything except MeshConfig and Node, which the harness writes. */
  resources: unknown[];
  /** Extra MeshConfig spec fields (trustDomain is set by the harness). */
  meshConfig?: Record<string, unknown>;
  /**
   * Run the proxies in this process with this clock instead of as child processes (for tests that
   * must move a proxy's time, e.g. SVID renewal). The control plane is always a child process.
   */
  inProcessClock?: Clock;
  /** Wait this long for each readiness condition (default 30 s). */
  timeoutMs?: number;
}

export interface MeshProxy {
  name: string;
  /** Tunnel listener address of the node. */
  address: string;
  /** Admin base URL, e.g. http://127.0.0.1:41234. */
  admin: string;
}

export interface Mesh {
  trustDomain: string;
  stateDir: string;
  client: ControlClient;
  proxies: MeshProxy[];
  /** The snapshot the first node runs (instances and services are the same on every node). */
  snapshot: Snapshot;
  /** Snapshot of a given node, as its admin endpoint shows it. */
  snapshotOf(node: string): Promise<Snapshot>;
  /** Instance `index` of a workload (default namespace unless given as `ns/workload`). */
  instance(workload: string, index?: number): InstanceEntry;
  /** Capture listener where `source` (an instance name, e.g. `web-0`) reaches `service` on `port`. */
  capture(source: string, service: string, port: number): { host: string; port: number };
  /** Apply resources and wait until every proxy runs the result. */
  apply(resources: unknown[], message?: string): Promise<void>;
  /** Wait until every proxy is connected, has ACKed the latest version and applied it. */
  settled(): Promise<void>;
  /** SIGTERM the control plane and wait for it to exit. */
  stopControl(): Promise<void>;
  /** Start the control plane again on the same state directory and ports. */
  startControl(): Promise<void>;
  /** Everything the processes wrote to stderr (for failure messages). */
  logs(): string;
  /** Stop every process and server the harness started, remove the state directory. */
  stop(): Promise<void>;
}

/** Poll `fn` until it returns something other than undefined/false, bounded by `ms`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 30_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address() as net.AddressInfo;
      s.close(() => resolve(addr.port));
    });
  });
}

interface Child {
  child: ChildProcess;
  stdout: () => string;
}

export async function startMesh(options: StartMeshOptions): Promise<Mesh> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const td = options.trustDomain;
  const nodeNames = options.nodes ?? ['node-0', 'node-1'];
  const stateDir = await mkdtemp(join(tmpdir(), `weft-${td.replace(/[^a-z0-9]/gi, '-')}-`));
  const children = new Set<ChildProcess>();
  let stderr = '';
  const debug = Boolean(process.env['DEBUG_MESH']);

  const spawnWeft = (args: string[], label: string): Child => {
    const child = spawn(process.execPath, [WEFT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      const s = d.toString();
      stderr += s
        .split('\n')
        .filter(Boolean)
        .map((l) => `[${label}] ${l}\n`)
        .join('');
      if (debug) process.stderr.write(`[${label}] ${s}`);
    });
    return { child, stdout: () => out };
  };

  const apiPort = await freePort();
  const pushPort = await freePort();
  let control: Child | undefined;
  const startControl = async (): Promise<void> => {
    await rm(join(stateDir, 'control.json'), { force: true });
    const c = spawnWeft(
      [
        'control',
        '--state-dir',
        stateDir,
        '--trust-domain',
        td,
        '--api-port',
        String(apiPort),
        '--push-port',
        String(pushPort),
      ],
      'control',
    );
    control = c;
    await waitFor(
      'control plane ready',
      () => {
        if (c.child.exitCode !== null) throw new Error(`weft control exited: ${stderr}`);
        return /weft control ready/.test(c.stdout());
      },
      timeoutMs,
    );
  };
  const stopProcess = (c: ChildProcess): Promise<void> =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const kill = setTimeout(() => c.kill('SIGKILL'), 5000);
      c.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      c.kill('SIGTERM');
    });

  const inProcess: NodeProxy[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(inProcess.map((p) => p.stop()));
    await Promise.all([...children].map(stopProcess));
    await rm(stateDir, { recursive: true, force: true });
  };

  try {
    await startControl();
    const token = (await readFile(join(stateDir, 'token'), 'utf8')).trim();
    const client = new ControlClient({ baseUrl: `http://127.0.0.1:${apiPort}`, token, actor: 'test' });
    const proxies: MeshProxy[] = nodeNames.map((name, i) => ({
      name,
      address: `127.0.${options.subnet}.${i + 1}`,
      admin: '',
    }));
    const base = [
      {
        apiVersion: 'weft.dev/v1alpha1',
        kind: 'MeshConfig',
        metadata: { name: 'default' },
        spec: { ...options.meshConfig, trustDomain: td },
      },
      ...proxies.map((p) => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: p.name, annotations: { 'weft.dev/tunnel-port': String(TUNNEL_PORT) } },
        status: { addresses: [{ type: 'InternalIP', address: p.address }] },
      })),
    ];
    await client.apply([...base, ...options.resources], { message: 'harness: initial resources' });

    if (options.inProcessClock) {
      const joinToken = (await readFile(join(stateDir, 'join-token'), 'utf8')).trim();
      for (const p of proxies) {
        const sink = new Writable({
          write(chunk: Buffer, _enc, cb) {
            stderr += `[${p.name}] ${chunk.toString()}`;
            if (debug) process.stderr.write(`[${p.name}] ${chunk.toString()}`);
            cb();
          },
        });
        const proxy = new NodeProxy({
          nodeName: p.name,
          apiUrl: `http://127.0.0.1:${apiPort}`,
          joinToken,
          logger: createLogger({ sink, level: debug ? 'debug' : 'info', fields: { node: p.name } }),
          clock: options.inProcessClock,
        });
        inProcess.push(proxy);
        await proxy.start();
        p.admin = `http://127.0.0.1:${proxy.adminPort}`;
      }
    } else {
      for (const p of proxies) {
        const c = spawnWeft(
          ['proxy', '--node', p.name, '--state-dir', stateDir, ...(debug ? ['-v'] : [])],
          p.name,
        );
        p.admin = await waitFor(
          `${p.name} admin address`,
          () => {
            if (c.child.exitCode !== null) throw new Error(`weft proxy ${p.name} exited: ${stderr}`);
            return /admin (http:\/\/\S+)/.exec(c.stdout())?.[1];
          },
          timeoutMs,
        );
      }
    }

    const snapshotOf = async (node: string): Promise<Snapshot> => {
      const p = proxies.find((x) => x.name === node);
      if (!p) throw new Error(`no node ${node}`);
      const dump = (await (await fetch(`${p.admin}/config_dump`)).json()) as { snapshot: Snapshot | null };
      if (!dump.snapshot) throw new Error(`${node} has no config yet`);
      return dump.snapshot;
    };

    const settled = async (): Promise<void> => {
      await waitFor(
        'every proxy ready, connected, ACKed and running the latest snapshot',
        async () => {
          const status = await client.status();
          for (const p of proxies) {
            const s = status.proxies.find((x) => x.node === p.name);
            if (!s || !s.connected || s.latestVersion === '' || s.ackedVersion !== s.latestVersion)
              return false;
            if (!(await fetch(`${p.admin}/ready`)).ok) return false;
            const dump = (await (await fetch(`${p.admin}/config_dump`)).json()) as { version: string | null };
            if (dump.version !== s.latestVersion) return false;
          }
          return true;
        },
        timeoutMs,
      );
    };
    await settled();

    const mesh: Mesh = {
      trustDomain: td,
      stateDir,
      client,
      proxies,
      snapshot: await snapshotOf(proxies[0]!.name),
      snapshotOf,
      instance(workload, index = 0) {
        const [ns, name] = workload.includes('/') ? workload.split('/') : ['default', workload];
        const inst = mesh.snapshot.instances.find(
          (i) => i.namespace === ns && i.workload === name && i.name === `${name}-${index}`,
        );
        if (!inst) throw new Error(`no instance ${index} of workload ${workload} in the snapshot`);
        return inst;
      },
      capture(source, service, port) {
        // Capture listeners live on the source instance's node.
        const src = mesh.snapshot.instances.find(
          (i) => i.name === source || `${i.namespace}/${i.name}` === source,
        );
        if (!src) throw new Error(`no instance ${source}`);
        const l = nodeSnapshots
          .get(src.node)
          ?.listeners.find(
            (x) =>
              x.source === `${src.namespace}/${src.name}` &&
              (x.service.name === service || `${x.service.namespace}/${x.service.name}` === service) &&
              x.port === port,
          );
        if (!l) throw new Error(`${source} has no capture listener for ${service}:${port}`);
        return { host: l.address, port: l.port };
      },
      async apply(resources, message = 'test change') {
        await client.apply(resources, { message });
        await settled();
        await refresh();
      },
      settled,
      async stopControl() {
        if (control) await stopProcess(control.child);
      },
      startControl,
      logs: () => stderr,
      stop: stopAll,
    };
    const nodeSnapshots = new Map<string, Snapshot>();
    const refresh = async () => {
      for (const p of proxies) nodeSnapshots.set(p.name, await snapshotOf(p.name));
      mesh.snapshot = nodeSnapshots.get(proxies[0]!.name)!;
    };
    await refresh();
    return mesh;
  } catch (err) {
    const logs = stderr;
    await stopAll();
    throw new Error(`startMesh failed: ${String(err)}\n${logs}`, { cause: err });
  }
}

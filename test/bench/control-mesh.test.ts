/**
 * The control-plane benchmark's mesh (bench/control/mesh.ts) must be a mesh the control plane
 * accepts — checked here with the same parse and cross-resource check `POST /v1/apply` runs — and
 * every measured change must really change something for every node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildMeshModel,
  checkResources,
  identitiesOnNode,
  parseResourceObject,
  snapshotFor,
} from '../../src/api/index.ts';
import type { Resource } from '../../src/api/index.ts';
import { benchMesh, changeFor, nodeAddress, nodeName } from '../../bench/control/mesh.ts';

function parseAll(raw: readonly unknown[]): Resource[] {
  return raw.map((r) => {
    const { resource, diagnostics } = parseResourceObject(r);
    assert.deepEqual(
      diagnostics.filter((d) => d.severity === 'error'),
      [],
      JSON.stringify(r),
    );
    assert.ok(resource);
    return resource;
  });
}

function upsert(resources: readonly Resource[], changed: Resource): Resource[] {
  const key = (r: Resource): string => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
  const out = resources.filter((r) => key(r) !== key(changed));
  assert.equal(out.length, resources.length - 1, `change ${key(changed)} must replace an existing resource`);
  return [...out, changed];
}

void test('the generated mesh validates and places two identities on every node', () => {
  const mesh = benchMesh({ nodes: 20, trustDomain: 'cp-bench.test' });
  const resources = parseAll(mesh.resources);
  const errors = checkResources(resources).filter((d) => d.severity === 'error');
  assert.deepEqual(errors, []);
  assert.equal(mesh.nodes.length, 20);
  assert.equal(mesh.services.length, 4);
  const model = buildMeshModel(resources, 1);
  assert.equal(model.instances.length, 40);
  for (const node of mesh.nodes) {
    const expected = mesh.identitiesByNode.get(node) ?? [];
    assert.equal(expected.length, 2);
    assert.deepEqual([...identitiesOnNode(model, node)].sort(), [...expected].sort());
  }
  // Every service selects its workloads (10 each at the default perService).
  for (const s of model.services) assert.equal(s.endpoints.length, 10, `${s.namespace}/${s.name}`);
});

void test('each measured change is valid and moves every node snapshot version', () => {
  const mesh = benchMesh({ nodes: 10, trustDomain: 'cp-bench.test' });
  let resources = parseAll(mesh.resources);
  let versions = mesh.nodes.map((n) => snapshotFor(buildMeshModel(resources, 1), n).version);
  const seen = new Set<string>();
  for (let k = 0; k < 6; k++) {
    const { resource, what } = changeFor(mesh, k);
    assert.ok(!seen.has(what), `change ${k} repeats ${what}`);
    seen.add(what);
    resources = upsert(resources, parseAll([resource])[0]!);
    assert.deepEqual(
      checkResources(resources).filter((d) => d.severity === 'error'),
      [],
    );
    const model = buildMeshModel(resources, k + 2);
    const next = mesh.nodes.map((n) => snapshotFor(model, n).version);
    next.forEach((v, i) => assert.notEqual(v, versions[i], `${what} left ${mesh.nodes[i]} unchanged`));
    versions = next;
  }
});

void test('node names sort in index order and addresses stay in 127.30.0.0/16 without .0 or .255', () => {
  assert.ok(nodeName(9) < nodeName(10));
  assert.equal(nodeAddress(0), '127.30.0.1');
  assert.equal(nodeAddress(249), '127.30.0.250');
  assert.equal(nodeAddress(250), '127.30.1.1');
  const all = new Set(Array.from({ length: 1000 }, (_, i) => nodeAddress(i)));
  assert.equal(all.size, 1000);
  assert.throws(() => nodeAddress(-1), RangeError);
  assert.throws(() => benchMesh({ nodes: 0, trustDomain: 'x.test' }), RangeError);
});

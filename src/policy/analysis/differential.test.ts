/**
 * Differential property test (issue "Policy analyser", Correctness): for random meshes, policy sets
 * and requests, the request belongs to exactly one of the analyser's classes, and the analyser's
 * verdict for that class equals the engine's decision for the request itself. A bounded number of
 * runs here; `npm run fuzz` runs many more (test/fuzz/analysis.fuzz.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createAnalyser } from './analyser.ts';
import { analysisModel } from './model.ts';
import { classOf } from './classify.ts';
import { checkAgreement, meshArb, requestArb } from './mesh-gen.test-util.ts';

test('analyser verdict per class equals the engine decision per request (bounded runs)', () => {
  fc.assert(
    fc.property(meshArb, fc.array(requestArb, { minLength: 1, maxLength: 8 }), (mesh, reqs) => {
      checkAgreement(mesh, reqs);
    }),
    { numRuns: 150, seed: 20261122 },
  );
});

test('every class witness is itself a member of its class (coverage is proved by construction)', () => {
  fc.assert(
    fc.property(meshArb, (mesh) => {
      const a = createAnalyser(analysisModel(mesh.resources));
      for (const dst of a.destinations)
        for (const port of dst.ports) {
          const set = a.classes(dst, port);
          for (const c of set.classes) assert.equal(classOf(set, c.request), c);
        }
    }),
    { numRuns: 40, seed: 7 },
  );
});

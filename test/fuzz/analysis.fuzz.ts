/**
 * The long differential run (`npm run fuzz`): the same property as
 * src/policy/analysis/differential.test.ts with many more random meshes, policy sets and requests.
 * WEFT_FUZZ_RUNS overrides the number of runs; a failure prints the seed and the manifests.
 */
import { test } from 'node:test';
import fc from 'fast-check';
import { checkAgreement, meshArb, requestArb } from '../../src/policy/analysis/mesh-gen.test-util.ts';

const runs = Number(process.env['WEFT_FUZZ_RUNS'] ?? 3000);

test(`analyser agrees with the engine on ${runs} random meshes`, () => {
  fc.assert(
    fc.property(meshArb, fc.array(requestArb, { minLength: 1, maxLength: 20 }), (mesh, reqs) => {
      checkAgreement(mesh, reqs);
    }),
    { numRuns: runs },
  );
});

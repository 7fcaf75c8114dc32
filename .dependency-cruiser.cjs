// Layering rules from CONVENTIONS.md: one folder per layer, imports only downward, no cycles.
const layer = (name, allowed) => ({
  name: `${name}-imports-only-downward`,
  severity: 'error',
  comment: `src/${name} may import only: ${allowed.join(', ') || 'nothing of ours'}`,
  from: { path: `^src/${name}/` },
  to: { path: '^src/', pathNot: [`^src/${name}/`, ...allowed.map((a) => `^src/${a}/`)] },
});
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    layer('lib', []),
    layer('api', ['lib']),
    layer('policy', ['api', 'lib']),
    layer('control', ['api', 'policy', 'lib']),
    layer('proxy', ['api', 'policy', 'lib']),
    layer('runtime', ['api', 'policy', 'lib', 'control', 'proxy']),
    layer('cli', ['api', 'policy', 'lib']),
    layer('dashboard', ['api', 'policy']),
    {
      name: 'nothing-imports-bin',
      severity: 'error',
      from: { pathNot: '^src/bin/' },
      to: { path: '^src/bin/' },
    },
    {
      name: 'no-node-builtins-in-dashboard',
      severity: 'error',
      from: { path: '^src/dashboard/' },
      to: { dependencyTypes: ['core'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};

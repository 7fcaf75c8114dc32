/** policy/analysis: the policy analyser (reachability matrix, invariants, what-if diff, lint). Pure: no node: imports. */
export { createAnalyser, buildClasses } from './analyser.ts';
export type {
  Analyser,
  AnalyserOptions,
  AnalysisDestination,
  AnalysisSource,
  DestinationPort,
  RequestClass,
  RequestClasses,
  Verdict,
  WitnessRequest,
} from './analyser.ts';
export { analysisModel, ANALYSIS_NODE_ADDRESS } from './model.ts';
export { classOf } from './classify.ts';
export { partitionStrings, partitionIpv4 } from './witness.ts';
export type { AttributePart, AttributePartition, AttributeDomain } from './witness.ts';
export { computeMatrix, matrixGraph, formatMatrix, requestLine } from './matrix.ts';
export type { Matrix, MatrixCell, MatrixGraph, MatrixOptions, AllowedClass } from './matrix.ts';
export { verifyInvariants, formatVerify } from './invariants.ts';
export type {
  Counterexample,
  DestinationSelector,
  InvariantInput,
  InvariantResult,
  InvariantSpec,
  OperationSelector,
  PeerSelector,
  VerifyOptions,
} from './invariants.ts';
export { diffPolicies, formatDiff } from './diff.ts';
export type { FlowChange, PolicyDiff } from './diff.ts';
export { lintPolicies, formatLint } from './lint.ts';
export type { LintFinding, LintOptions } from './lint.ts';

/** http: protocol detection and header rules. */
export { sniffHttp, ReplayDuplex, writeChunkByChunk } from './sniff.ts';
export type { Sniffed } from './sniff.ts';
export { forwardableHeaders, xfccValue, callerFromXfcc } from './headers.ts';

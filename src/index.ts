/** batchline's public API: the stages, the emulator, the types and the errors. */
export * from './errors.ts';
export * from './types.ts';
export { LineSplitter, DEFAULT_MAX_LINE_BYTES } from './core/line-splitter.ts';
export { DecodedLine } from './core/parsed-line.ts';
export { createParser, parseSource, parseFile, RequestParser, type ParserOptions, type ParseStats, type RequestSource } from './streams/parse.ts';
export { createValidator, RequestValidator, type ValidatorOptions, type ValidateStats } from './streams/validate.ts';
export { createSharder, RequestSharder, DEFAULT_WRITE_BUFFER_BYTES, type SharderOptions, type ShardStats } from './streams/shard.ts';
export { toRequest, checkRequest, REQUIRED_BODY_FIELDS, type RequestSpec } from './core/request-rules.ts';
export { RequestChecker, type RequestCheckerOptions } from './core/request-checker.ts';
export { UniqueIdSet, DEFAULT_MAX_CUSTOM_IDS, DEFAULT_MAX_CUSTOM_ID_BYTES, type UniqueIdSetOptions } from './core/unique-id-set.ts';
export { ShardPlan, DEFAULT_MAX_SHARD_BYTES, DEFAULT_MAX_SHARD_REQUESTS, DEFAULT_MAX_OPEN_SHARDS, type ShardLimits, type PlannedShard } from './core/shard-plan.ts';
export { type InvalidPolicy } from './core/invalid-policy.ts';
export { joinResults, createJoiner, type JoinOptions, type JoinStats, type JoinIterable, type Joiner, type ResultSource } from './streams/join.ts';
export { createJsonlSink, createCallbackSink, type JsonlSinkOptions, type CallbackSinkOptions } from './streams/sink.ts';
export { resultStatus, parseResultLine } from './core/join/result-line.ts';
export {
  startEmulator,
  EmulatorClock,
  EmulatorHttpError,
  FaultPlan,
  FAULT_KINDS,
  type EmulatorOptions,
  type EmulatorHandle,
  type EmulatorLimits,
  type FaultKind,
  type FaultRule,
  type FaultMatch,
  type InjectedFault,
} from './emulator/index.ts';
export { BatchEngine, type BatchEngineOptions } from './emulator/batches/engine.ts';
export { main as runCli } from './cli/main.ts';

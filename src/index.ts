/** batchline's public API: the stages, the emulator, the types and the errors. */
export * from './errors.ts';
export * from './types.ts';
export { LineSplitter, DEFAULT_MAX_LINE_BYTES } from './core/lines.ts';
export { main as runCli } from './cli/main.ts';

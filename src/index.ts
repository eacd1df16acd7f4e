// vigil-audit: the library's public entry point. Stage packages are also importable on their own
// (`vigil-audit/event`, `/policy`, `/capture`, `/sinks`, `/rules`, `/alerts`).
export { type AuditorConfigSetup, type AuditorHandle, type AuditorSetup, createAuditor } from './capture/index.ts';
export * from './event/index.ts';
export type { SinkConfig } from './sinks/index.ts';

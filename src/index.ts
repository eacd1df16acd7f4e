// vigil-audit: the library's public entry point.
export * from './event/index.ts';

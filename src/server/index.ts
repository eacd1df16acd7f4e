// Public surface of the collector server.
export { type App, type AppOptions, createApp } from './app.ts';
export { AuthError, Authenticator, isLoopback, type Principal } from './auth.ts';
export { type CollectorMetrics, collectorMetrics } from './metrics.ts';
export { parseListen, type RunningServer, type ServeOptions, startServer } from './serve.ts';

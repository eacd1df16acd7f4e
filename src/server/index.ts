// Public surface of the collector server: the app (ingest, query, alerts, health, metrics) and `vigil serve`'s start.
export { type App, type AppOptions, createApp } from './app.ts';
export { type DecisionLog, type Decisions, openDecisions } from './decisions.ts';
export { parseListen, type RunningServer, type ServeOptions, startServer } from './serve.ts';

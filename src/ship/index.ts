// Public surface of the file-tailing agent (`vigil ship`) and of the collector target it shares with
// `vigil k8s webhook-config`.
export { type ShipLogger, type ShipOptions, Shipper, type ShipStatus, stderrShipLogger } from './agent.ts';
export { type StatusServer, serveStatus } from './http.ts';
export { StateError } from './state.ts';
export {
  readTarget,
  type Target,
  TargetError,
  type TargetFlags,
  WEBHOOK_PATH,
  webhookKubeconfig,
} from './target.ts';

// Public surface of alerts: raise alerts from rule verdicts, keep them, deliver them to receivers.
export { alertmanagerReceiver } from './alertmanager.ts';
export { type AlertDispatcher, createAlertDispatcher, type DispatcherOptions } from './dispatcher.ts';
export { falcoAlertJson, falcoReceiver } from './falco.ts';
export { notificationManagerReceiver } from './notification-manager.ts';
export { openPostgresAlertStore, type PostgresAlertStoreOptions } from './postgres.ts';
export { RECEIVER_KINDS, type ReceiverSpec, receiverFor } from './receiver.ts';
export { alertRecords, goTimeString, type RaisedAlert } from './record.ts';
export { alertsPathFor, openSqliteAlertStore } from './sqlite.ts';
export * from './types.ts';
export { webhookReceiver } from './webhook.ts';

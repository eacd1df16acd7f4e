// The syslog destination: RFC 5424 messages over TCP with octet-counting framing (RFC 6587), over TLS (RFC 5425), or
// over UDP (RFC 5426). The message is the event in the chosen format; the structured data carries the audit fields
// a SIEM indexes without parsing the message. Syslog has no acknowledgement: a connection that drops within
// `settleMs` of events written on it makes the next send fail with the position of the oldest of them, and the
// forwarder resends from there (./types.ts `resendFrom`), so a receiver's restart loses nothing it had not read.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { StoredEvent } from '../store/types.ts';
import { type Delivery, type Destination, DestinationError } from './types.ts';

export interface SyslogOptions {
  /** tcp://host:port, tls://host:port or udp://host:port. */
  url: string;
  appName?: string;
  hostname?: string;
  /** RFC 5424 facility; default 13 (log audit). */
  facility?: number;
  tls?: { ca?: string; cert?: string; key?: string; serverName?: string };
  /** Connect and write timeout. */
  timeoutMs?: number;
  /** How long a written event must stay on a live connection before it counts as delivered. */
  settleMs?: number;
}

/**
 * The structured-data ID: RFC 5424 requires `name@<private enterprise number>` for IDs that are not IANA's; Vigil has
 * no enterprise number, so it uses 32473, the number RFC 5612 reserves for documentation and examples.
 */
export const SD_ID = 'vigil@32473';
const MAX_UDP = 65_000;

/** An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3). */
function sdValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field: printable US-ASCII without spaces, at most `max` characters, `-` when empty. */
function headerField(v: string | undefined, max: number): string {
  const s = (v ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return s === '' ? '-' : s;
}

/** The audit fields as SD-PARAMs, in a fixed order; absent values left out. */
export function structuredData(e: StoredEvent): string {
  const params: [string, string | number | undefined][] = [
    ['id', e.id],
    ['auditID', e.auditID],
    ['stage', e.stage],
    ['verb', e.verb],
    ['user', e.user?.username],
    ['sourceIP', e.sourceIPs?.[0]],
    ['resource', e.objectRef?.resource],
    ['subresource', e.objectRef?.subresource],
    ['namespace', e.objectRef?.namespace],
    ['name', e.objectRef?.name],
    ['apiGroup', e.objectRef?.apiGroup],
    ['code', e.responseStatus?.code],
    ['requestURI', e.requestURI],
    ['workspace', e.workspace],
    ['cluster', e.cluster],
    ['source', e.source],
  ];
  const body = params
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}="${sdValue(String(v))}"`)
    .join(' ');
  return `[${SD_ID} ${body}]`;
}

/** One RFC 5424 message (without framing): header, structured data, BOM and the UTF-8 message. */
export function formatSyslog(
  d: Delivery,
  o: { appName: string; hostname: string; facility: number; procId: string },
): Buffer {
  const code = d.event.responseStatus?.code;
  const severity = code !== undefined && code >= 400 ? 4 : 6; // warning for refused or failed calls, else informational
  const ts = Number.isFinite(Date.parse(d.event.requestReceivedTimestamp)) ? d.event.requestReceivedTimestamp : '-';
  const head = `<${o.facility * 8 + severity}>1 ${ts} ${o.hostname} ${o.appName} ${o.procId} audit ${structuredData(d.event)} `;
  return Buffer.concat([Buffer.from(head), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(d.body))]);
}

export class SyslogDestination implements Destination {
  readonly #url: URL;
  readonly #o: SyslogOptions;
  readonly #header: { appName: string; hostname: string; facility: number; procId: string };
  #socket: Socket | undefined;
  #udp: UdpSocket | undefined;
  /** Batches written on the current connection and not yet settled: their first position and when written. */
  #open: { position: number; at: number }[] = [];
  /** The connection dropped while events on it were unsettled: the next send fails so that they are resent. */
  #lost: number | undefined;

  constructor(o: SyslogOptions) {
    this.#url = new URL(o.url);
    if (!['tcp:', 'tls:', 'udp:'].includes(this.#url.protocol))
      throw new Error(`syslog url must be tcp://, tls:// or udp://, not ${o.url}`);
    this.#o = o;
    this.#header = {
      appName: headerField(o.appName ?? 'vigil', 48),
      hostname: headerField(o.hostname ?? osHostname(), 255),
      facility: o.facility ?? 13,
      procId: String(process.pid),
    };
  }

  async send(batch: Delivery[]): Promise<void> {
    if (this.#lost !== undefined) {
      const err = new DestinationError('syslog connection lost with events not yet settled; resending them');
      err.resendFrom = this.#lost;
      this.#lost = undefined;
      throw err;
    }
    const messages = batch.map((d) => formatSyslog(d, this.#header));
    if (this.#url.protocol === 'udp:') return this.#sendUdp(messages);
    const socket = this.#socket ?? (await this.#connect());
    // octet counting: "<length> <message>", which lets a message hold newlines (the JSON of an event may)
    const frames = Buffer.concat(messages.flatMap((m) => [Buffer.from(`${m.length} `), m]));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy(new Error('write timed out'));
      }, this.#o.timeoutMs ?? 10_000);
      socket.write(frames, (err) => {
        clearTimeout(timer);
        if (err) reject(new DestinationError(`syslog write failed: ${err.message}`, undefined, err));
        else resolve();
      });
    });
    if (this.#socket !== socket) {
      const err = new DestinationError('syslog connection closed while writing');
      err.resendFrom = Math.min(batch[0]!.position, this.#lost ?? Number.POSITIVE_INFINITY);
      this.#lost = undefined;
      throw err;
    }
    this.#open.push({ position: batch[0]!.position, at: Date.now() });
  }

  /** The first position of the oldest batch written less than `settleMs` ago on the current connection. */
  #unsettled(): number | undefined {
    const settled = Date.now() - (this.#o.settleMs ?? 1000);
    while (this.#open.length > 0 && this.#open[0]!.at <= settled) this.#open.shift();
    return this.#open[0]?.position;
  }

  async #sendUdp(messages: Buffer[]): Promise<void> {
    this.#udp ??= createSocket(this.#url.hostname.includes(':') ? 'udp6' : 'udp4');
    const udp = this.#udp;
    const port = Number(this.#url.port);
    const host = this.#url.hostname.replace(/^\[|\]$/g, '');
    for (const m of messages)
      await new Promise<void>((resolve, reject) =>
        // a datagram holds one message; a longer one is cut (RFC 5426 lets receivers truncate anyway)
        udp.send(m.subarray(0, MAX_UDP), port, host, (err) =>
          err ? reject(new DestinationError(`syslog send failed: ${err.message}`, undefined, err)) : resolve(),
        ),
      );
  }

  #connect(): Promise<Socket> {
    const host = this.#url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(this.#url.port);
    const t = this.#o.tls;
    return new Promise<Socket>((resolve, reject) => {
      const tls = this.#url.protocol === 'tls:';
      const socket = tls
        ? tlsConnect({
            host,
            port,
            servername: t?.serverName ?? (/^[\d.:]+$/.test(host) ? undefined : host),
            ca: t?.ca ? readFileSync(t.ca) : undefined,
            cert: t?.cert ? readFileSync(t.cert) : undefined,
            key: t?.key ? readFileSync(t.key) : undefined,
          })
        : netConnect({ host, port });
      const timer = setTimeout(
        () => socket.destroy(new Error(`connect timed out after ${this.#o.timeoutMs ?? 10_000} ms`)),
        this.#o.timeoutMs ?? 10_000,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(new DestinationError(`syslog connect to ${this.#url.host} failed: ${err.message}`, undefined, err));
      };
      socket.once('error', fail);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.setKeepAlive(true, 10_000);
        socket.on('error', () => {}); // reported by 'close'
        socket.on('data', () => {}); // a syslog receiver says nothing; read so that a close is seen
        socket.once('close', () => {
          if (this.#socket !== socket) return;
          this.#socket = undefined;
          this.#lost ??= this.#unsettled();
          this.#open = [];
        });
        this.#socket = socket;
        resolve(socket);
      });
    });
  }

  async close(): Promise<void> {
    const s = this.#socket;
    this.#socket = undefined;
    if (s) await new Promise<void>((resolve) => s.end(resolve));
    this.#udp?.close();
    this.#udp = undefined;
  }
}

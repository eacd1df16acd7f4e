// sourceIPs as kube-apiserver builds them (apimachinery `SourceIPs`): X-Forwarded-For entries, then X-Real-Ip,
// then the connection's peer unless it repeats the last entry. Unlike kube-apiserver, the headers are believed
// only when the peer is a configured trusted proxy: otherwise any client could write its own history.
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';

export class SourceIPResolver {
  readonly #trusted: BlockList | null;

  constructor(trustedProxies: string[] = []) {
    if (trustedProxies.length === 0) {
      this.#trusted = null;
      return;
    }
    const list = new BlockList();
    for (const entry of trustedProxies) {
      const slash = entry.indexOf('/');
      const addr = normalize(slash < 0 ? entry : entry.slice(0, slash));
      const family = isIP(addr);
      if (family === 0) throw new Error(`trustedProxies: ${JSON.stringify(entry)} is not an IP address or CIDR`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash < 0) {
        list.addAddress(addr, type);
        continue;
      }
      const bits = Number(entry.slice(slash + 1));
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
        throw new Error(`trustedProxies: ${JSON.stringify(entry)} has an invalid prefix length`);
      }
      list.addSubnet(addr, bits, type);
    }
    this.#trusted = list;
  }

  resolve(remoteAddress: string | undefined, headers: IncomingHttpHeaders): string[] {
    const remote = remoteAddress === undefined ? '' : normalize(remoteAddress);
    if (this.#trusted === null || remote === '' || !this.#trusted.check(remote, isIP(remote) === 6 ? 'ipv6' : 'ipv4')) {
      return remote === '' ? [] : [remote];
    }
    const ips: string[] = [];
    const xff = headers['x-forwarded-for'];
    if (xff !== undefined) {
      for (const part of (Array.isArray(xff) ? xff.join(',') : xff).split(',')) {
        const ip = normalize(part.trim());
        if (isIP(ip) !== 0) ips.push(ip);
      }
    }
    const realIP = headers['x-real-ip'];
    if (typeof realIP === 'string') {
      const ip = normalize(realIP.trim());
      if (isIP(ip) !== 0 && !ips.includes(ip)) ips.push(ip);
    }
    if (ips.length === 0 || ips[ips.length - 1] !== remote) ips.push(remote);
    return ips;
  }
}

/** `::ffff:1.2.3.4` is how node shows an IPv4 peer on a dual-stack socket; Go prints it as `1.2.3.4`. */
function normalize(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Which addresses upstream tools may be reached at. With private networks denied (the default in
 * production) a tool endpoint must be a public unicast address: no loopback, private (RFC 1918,
 * unique local), link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast,
 * unspecified or reserved ranges. IP literals are checked as given; host names are checked on the
 * addresses DNS gives at connect time, and the connection goes to exactly the address checked
 * (no second lookup an attacker's DNS could answer differently).
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

/** Why an IP-literal `hostname` (as in a URL) is refused, or null (a name: DNS decides). */
export function literalAddressRefusal(hostname: string): string | null {
  const host = hostname.replace(/^\[|\]$/g, '');
  return isIP(host) && !isPublicAddress(host) ? 'a private or reserved address' : null;
}

/**
 * Why `hostname` is refused as a new tool endpoint: a private IP literal or a loopback name.
 * Other names are checked on every call, on the addresses they resolve to then.
 */
export function endpointHostRefusal(hostname: string): string | null {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return 'a loopback host';
  return literalAddressRefusal(hostname);
}

export class BlockedAddressError extends Error {
  override name = 'BlockedAddressError';
  readonly code = 'ESWITCHBOARD_BLOCKED_ADDRESS';
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for net.connect that refuses host names resolving to any non-public address. */
export function publicOnlyLookup(
  hostname: string,
  options: LookupOptions,
  callback: LookupCallback,
): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, options.all ? [] : '');
    const list = addresses as LookupAddress[];
    const blocked = list.find((a) => !isPublicAddress(a.address));
    if (blocked || list.length === 0) {
      return callback(
        new BlockedAddressError('tool host resolves to a private or reserved address'),
        options.all ? [] : '',
      );
    }
    if (options.all) return callback(null, list);
    const first = list[0]!;
    return callback(null, first.address, first.family);
  });
}

// Where outbound webhooks may go (SSRF guard), used by the API when an endpoint is registered
// and by the worker at every send. A destination is refused unless every address its host has
// is global unicast: loopback, private, link-local (cloud metadata 169.254.169.254), unique-local,
// multicast, unspecified, NAT64/6to4/Teredo (which embed an IPv4 address) and reserved ranges
// are refused, except those inside an operator's allowlist (a program's own private receivers).
// The WHATWG URL parser canonicalizes IPv4 spellings first (0x7f.1, 2130706433, 0177.0.0.1 all
// become 127.0.0.1), so a literal is classified as the address it really is. The worker checks
// again inside the connection's own DNS lookup (connectLookup), so a name whose answer changes
// between the check and the connection (DNS rebinding) is refused on the address connected to.

import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface DestinationPolicy {
  /** Development only (config refuses it in production): http:// destinations. */
  readonly allow_http: boolean;
  /** CIDRs allowed although not global unicast, e.g. "10.20.0.0/16"; validated by config. */
  readonly allowed_cidrs: readonly string[];
}

/** Resolves a host name to all its addresses (tests inject their own; production uses the OS). */
export type HostLookup = (hostname: string) => Promise<readonly LookupAddress[]>;

export const systemLookup: HostLookup = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

export const DESTINATION_REFUSED = 'destination_refused';
export const URL_CHARS_MAX = 2048;
const LOOKUP_TIMEOUT_MS = 2_000;
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/** Readable names of ipaddr.js ranges, for error messages. */
const RANGE_NAMES: Readonly<Record<string, string>> = {
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  carrierGradeNat: 'carrier-grade NAT',
  ipv4Mapped: 'IPv4-mapped',
  rfc6052: 'NAT64',
  rfc6145: 'IPv4-translated',
  deprecatedSiteLocal: 'site-local',
  '6to4': '6to4',
  unicast: 'non-global',
};

/** A destination we will not send to; `reason` is safe to show the endpoint's owner. */
export class DestinationRefusedError extends Error {
  readonly code = 'WH_ERR_DESTINATION_REFUSED';
  /** The host does not resolve at all (rather than resolving somewhere forbidden). */
  readonly unresolved: boolean;

  constructor(reason: string, unresolved = false) {
    super(reason);
    this.unresolved = unresolved;
  }
}

/** "[::1]" -> "::1"; other host names unchanged. */
export function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

export function parseCidrs(cidrs: readonly string[]): Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> {
  return cidrs.map((cidr) => ipaddr.parseCIDR(cidr));
}

export class DestinationGuard {
  readonly #policy: DestinationPolicy;
  readonly #allowed: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
  readonly #lookup: HostLookup;

  constructor(policy: DestinationPolicy, lookup: HostLookup = systemLookup) {
    this.#policy = policy;
    this.#allowed = parseCidrs(policy.allowed_cidrs);
    this.#lookup = lookup;
  }

  /** Why this address is refused ("127.0.0.1 (loopback)"), or null when allowed. */
  refusalOf(address: string): string | null {
    if (!ipaddr.isValid(address)) return `${address} (not an IP address)`;
    // IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it carries.
    const ip = ipaddr.process(address);
    if (this.#allowed.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))) return null;
    const range = ip.range();
    if (range === 'unicast' && (ip.kind() === 'ipv4' || ip.match(GLOBAL_UNICAST_V6))) return null;
    return `${ip.toString()} (${RANGE_NAMES[range] ?? range})`;
  }

  /**
   * The URL, if its form is acceptable: https (http only when allowed), no credentials, a host,
   * and, when the host is an IP literal, an allowed address. No DNS here (see check()).
   */
  parse(raw: string): URL {
    if (raw.length > URL_CHARS_MAX)
      throw new DestinationRefusedError(`is longer than ${URL_CHARS_MAX} characters`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new DestinationRefusedError('is not a valid URL');
    }
    const protocols = this.#policy.allow_http ? ['https:', 'http:'] : ['https:'];
    if (!protocols.includes(url.protocol)) {
      throw new DestinationRefusedError(`must use ${protocols.map((p) => `${p}//`).join(' or ')}`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new DestinationRefusedError('must not contain credentials (user:password@)');
    }
    const host = bareHost(url.hostname);
    if (host === '') throw new DestinationRefusedError('has no host');
    if (isIP(host) !== 0) {
      const refusal = this.refusalOf(host);
      if (refusal !== null) throw new DestinationRefusedError(`is ${refusal}`);
    }
    return url;
  }

  /** parse() and then every address the host resolves to; throws DestinationRefusedError. */
  async check(raw: string): Promise<URL> {
    const url = this.parse(raw);
    const host = bareHost(url.hostname);
    if (isIP(host) === 0) this.#refuseAny(host, await this.#resolve(host));
    return url;
  }

  /**
   * A `lookup` for net/tls.connect (undici's connector passes it through): the socket connects
   * only to addresses checked here, on the same answer, so a rebinding between an earlier check
   * and the connection is caught. IP literals never reach a lookup: the sender checks them.
   */
  readonly connectLookup = (
    hostname: string,
    options: LookupOptions,
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ): void => {
    this.#resolve(hostname).then(
      (found) => {
        const family = options.family === 4 || options.family === 6 ? options.family : 0;
        const addresses = found.filter((a) => family === 0 || a.family === family);
        try {
          this.#refuseAny(hostname, addresses);
        } catch (error) {
          callback(error as DestinationRefusedError, '');
          return;
        }
        if (options.all) callback(null, [...addresses]);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };

  async #resolve(host: string): Promise<readonly LookupAddress[]> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.#lookup(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(Object.assign(new Error(`DNS lookup of ${host} timed out`), { code: 'ETIMEOUT' })),
            LOOKUP_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') {
        throw new DestinationRefusedError(`host ${host} does not resolve`, true);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #refuseAny(host: string, addresses: readonly LookupAddress[]): void {
    if (addresses.length === 0) throw new DestinationRefusedError(`host ${host} does not resolve`, true);
    for (const { address } of addresses) {
      const refusal = this.refusalOf(address);
      if (refusal !== null) throw new DestinationRefusedError(`host ${host} resolves to ${refusal}`);
    }
  }
}

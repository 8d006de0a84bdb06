import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HEADER_ORIGINAL_ROUTING_KEY } from '../../shared/broker/topology.ts';
import { loadApiConfig, loadWorkerConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import {
  addressedDeliveryMessage,
  eventBody,
  HEADER_ATTEMPT_ONLY,
  HEADER_ENDPOINT_ID,
  HEADER_EVENT_CREATED_AT,
  parseEventBody,
} from '../../shared/webhooks/addressed-delivery.ts';
import { DestinationGuard, DestinationRefusedError } from '../../shared/webhooks/destination.ts';
import { signingSecrets } from '../../worker/webhooks/endpoints.ts';
import { signatureHeader } from '../../worker/webhooks/signature.ts';

const guard = new DestinationGuard({ allow_http: false, allowed_cidrs: ['10.20.0.0/16'] }, async (host) => {
  if (host === 'rebinds.example') return [{ address: '127.0.0.1', family: 4 }];
  if (host === 'public.example') return [{ address: '93.184.216.34', family: 4 }];
  throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
});

const octet = fc.integer({ min: 0, max: 255 });

describe('webhook destination guard', () => {
  it('refuses every address of the loopback, private, link-local, CGNAT, multicast and unspecified IPv4 ranges', () => {
    const ranges: Array<[(a: number, b: number, c: number) => string, string]> = [
      [(a, b, c) => `127.${a}.${b}.${c}`, 'loopback'],
      [(a, b, c) => `10.${a}.${b}.${c}`, 'private'],
      [(a, b, c) => `172.${16 + (a % 16)}.${b}.${c}`, 'private'],
      [(_a, b, c) => `192.168.${b}.${c}`, 'private'],
      [(_a, b, c) => `169.254.${b}.${c}`, 'link-local'],
      [(a, b, c) => `100.${64 + (a % 64)}.${b}.${c}`, 'carrier-grade NAT'],
      [(a, b, c) => `${224 + (a % 16)}.${b}.${c}.1`, 'multicast'],
      [(a, b, c) => `0.${a}.${b}.${c}`, 'unspecified'],
    ];
    fc.assert(
      fc.property(octet, octet, octet, fc.integer({ min: 0, max: ranges.length - 1 }), (a, b, c, i) => {
        const [address, name] = ranges[i]!;
        const ip = address(a, b, c);
        if (ip.startsWith('10.20.')) return; // the allowlist below
        expect(guard.refusalOf(ip)).toBe(`${ip} (${name})`);
        // The same address mapped into IPv6 is judged as itself.
        expect(guard.refusalOf(`::ffff:${ip}`)).toBe(`${ip} (${name})`);
      }),
    );
  });

  it('refuses IPv6 loopback, unspecified, link-local, unique-local, multicast, NAT64 and 6to4; allows global unicast', () => {
    expect(guard.refusalOf('::1')).toBe('::1 (loopback)');
    expect(guard.refusalOf('::')).toBe(':: (unspecified)');
    expect(guard.refusalOf('fe80::1')).toBe('fe80::1 (link-local)');
    expect(guard.refusalOf('fd12:3456::1')).toBe('fd12:3456::1 (unique-local)');
    expect(guard.refusalOf('ff02::1')).toBe('ff02::1 (multicast)');
    expect(guard.refusalOf('64:ff9b::7f00:1')).toBe('64:ff9b::7f00:1 (NAT64)');
    expect(guard.refusalOf('2002:7f00:1::')).toBe('2002:7f00:1:: (6to4)');
    expect(guard.refusalOf('fec0::1')).toBe('fec0::1 (site-local)');
    expect(guard.refusalOf('2606:4700:4700::1111')).toBeNull();
    expect(guard.refusalOf('93.184.216.34')).toBeNull();
    expect(guard.refusalOf('10.20.3.4')).toBeNull();
    expect(guard.refusalOf('10.21.3.4')).toBe('10.21.3.4 (private)');
  });

  it('reads decimal, octal, hex and short IPv4 spellings as the address they are', () => {
    for (const host of ['2130706433', '0177.0.0.1', '0x7f.0.0.1', '0x7f000001', '127.1', '0177.1']) {
      expect(() => guard.parse(`https://${host}/`)).toThrow('is 127.0.0.1 (loopback)');
    }
    expect(() => guard.parse('https://0xa9fea9fe/')).toThrow('is 169.254.169.254 (link-local)');
    expect(() => guard.parse('https://[::ffff:a9fe:a9fe]/')).toThrow('is 169.254.169.254 (link-local)');
  });

  it('refuses http, credentials and non-URLs; allows https to a public host', async () => {
    expect(() => guard.parse('http://public.example/')).toThrow('must use https://');
    expect(() => guard.parse('https://a:b@public.example/')).toThrow('must not contain credentials');
    expect(() => guard.parse('public.example')).toThrow('is not a valid URL');
    expect(() => guard.parse(`https://public.example/${'x'.repeat(2048)}`)).toThrow('longer than 2048');
    expect((await guard.check('https://public.example/hooks')).href).toBe('https://public.example/hooks');
    await expect(guard.check('https://rebinds.example/')).rejects.toThrow(
      'host rebinds.example resolves to 127.0.0.1 (loopback)',
    );
    await expect(guard.check('https://missing.example/')).rejects.toMatchObject({ unresolved: true });
    const dev = new DestinationGuard({ allow_http: true, allowed_cidrs: [] });
    expect(dev.parse('http://93.184.216.34/').protocol).toBe('http:');
  });

  it("connectLookup answers net.connect with checked addresses only, in either of Node's forms", async () => {
    const lookup = (host: string, all: boolean) =>
      new Promise<{ error: unknown; address: unknown; family?: number }>((resolve) =>
        guard.connectLookup(host, { all }, (error, address, family) => resolve({ error, address, family })),
      );
    expect(await lookup('public.example', true)).toMatchObject({
      error: null,
      address: [{ address: '93.184.216.34', family: 4 }],
    });
    expect(await lookup('public.example', false)).toMatchObject({
      error: null,
      address: '93.184.216.34',
      family: 4,
    });
    const refused = await lookup('rebinds.example', true);
    expect(refused.error).toBeInstanceOf(DestinationRefusedError);
    expect((refused.error as Error).message).toBe('host rebinds.example resolves to 127.0.0.1 (loopback)');
  });
});

describe('webhook settings', () => {
  const env = {
    DATABASE_URL: 'postgres://u@localhost/db',
    MONGODB_URI: 'mongodb://localhost/db',
    REDIS_URL: 'redis://localhost:6379',
    RABBITMQ_URL: 'amqp://localhost',
    MARQETA_BASE_URL: 'https://sandbox.marqeta.com/v3',
    MARQETA_APP_TOKEN: 'app',
    MARQETA_ADMIN_TOKEN: 'admin',
  };

  it('default to https only, no allowlist, afc.webhooks', () => {
    expect(loadApiConfig(env)).toMatchObject({
      webhook_allow_http: false,
      webhook_allowed_cidrs: [],
      webhooks_queue: 'afc.webhooks',
    });
    expect(loadWorkerConfig(env).webhook_tls_extra_ca_pem).toBeNull();
  });

  it('refuse http in production, malformed or catch-all CIDRs, and a CA file without a certificate', () => {
    expect(() => loadApiConfig({ ...env, WEBHOOK_ALLOW_HTTP: 'true' })).toThrow(
      /WEBHOOK_ALLOW_HTTP=true is for development/,
    );
    expect(
      loadApiConfig({ ...env, NODE_ENV: 'development', WEBHOOK_ALLOW_HTTP: 'true' }).webhook_allow_http,
    ).toBe(true);
    expect(() => loadApiConfig({ ...env, WEBHOOK_ALLOWED_CIDRS: '10.0.0.0/8,10.1.2.3' })).toThrow(
      /WEBHOOK_ALLOWED_CIDRS: "10.1.2.3" is not a CIDR/,
    );
    expect(() => loadApiConfig({ ...env, WEBHOOK_ALLOWED_CIDRS: '0.0.0.0/0' })).toThrow(
      /would allow every address/,
    );
    expect(
      loadApiConfig({ ...env, WEBHOOK_ALLOWED_CIDRS: ' 10.0.0.0/8 , fd00::/8 ' }).webhook_allowed_cidrs,
    ).toEqual(['10.0.0.0/8', 'fd00::/8']);
    const not_pem = join(tmpdir(), `afc-not-a-cert-${process.pid}.txt`);
    writeFileSync(not_pem, 'hello');
    expect(() => loadWorkerConfig({ ...env, WEBHOOK_TLS_CA_FILE: not_pem })).toThrow(
      /holds no PEM certificate/,
    );
    expect(() => loadWorkerConfig({ ...env, WEBHOOK_TLS_CA_FILE: '/nonexistent/ca.pem' })).toThrow(
      /WEBHOOK_TLS_CA_FILE: cannot read/,
    );
  });
});

describe('webhook secrets', () => {
  const endpoint = {
    id: 'e',
    company_id: null,
    url: 'https://public.example/',
    secret: 'whsec_new_0123456789abcdef',
    previous_secret: 'whsec_old_0123456789abcdef',
    previous_secret_expires_at: new Date(2_000_000),
    event_types: [],
  };

  it('sign with the previous secret too until its overlap ends, then with the current one only', () => {
    expect(signingSecrets(endpoint, 1_999_999)).toEqual([endpoint.secret, endpoint.previous_secret]);
    expect(signingSecrets(endpoint, 2_000_000)).toEqual([endpoint.secret]);
    expect(signingSecrets({ ...endpoint, previous_secret: null, previous_secret_expires_at: null })).toEqual([
      endpoint.secret,
    ]);
  });

  it('are redacted from log lines, at the top level and nested', () => {
    let text = '';
    const out = new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    });
    const log = createLogger('redaction', 'info', out);
    log.info({ secret: endpoint.secret, previous_secret: endpoint.previous_secret }, 'top');
    log.info({ endpoint }, 'nested');
    log.info({ change: { endpoint } }, 'deeper');
    log.flush();
    expect(text).toContain('"deeper"');
    expect(text).not.toContain('whsec_');
  });
});

describe('addressed webhook events (API -> worker)', () => {
  it('carry the endpoint, type and creation time the worker reads, and their body round-trips', () => {
    const { envelope, body } = addressedDeliveryMessage('afc.webhooks', {
      endpoint_id: 'e1',
      event_id: 'evt_1',
      event_type: 'webhook.test',
      created_at: '2026-12-04T10:00:00.123Z',
      data: { a: 1 },
      attempt_only: true,
    });
    expect(envelope).toMatchObject({
      exchange: '',
      routingKey: 'afc.webhooks',
      messageId: 'evt_1',
      headers: {
        [HEADER_ENDPOINT_ID]: 'e1',
        [HEADER_ORIGINAL_ROUTING_KEY]: 'webhook.test',
        [HEADER_EVENT_CREATED_AT]: '2026-12-04T10:00:00.123Z',
        [HEADER_ATTEMPT_ONLY]: true,
      },
    });
    expect(body).toEqual({ a: 1 });
    const raw = eventBody('evt_1', 'webhook.test', '2026-12-04T10:00:00.123Z', { a: 1 });
    expect(parseEventBody(raw)).toEqual({
      id: 'evt_1',
      type: 'webhook.test',
      created_at: '2026-12-04T10:00:00.123Z',
      data: { a: 1 },
    });
    expect(parseEventBody('{"id":1}')).toBeNull();
    expect(parseEventBody('not json')).toBeNull();
  });
});

describe('the receiver snippet in docs/operations.md', () => {
  it('verifies our signatures, with either secret during a rotation, and refuses a changed body or an old one', async () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const snippet = /<!-- webhook-verify-snippet[^\n]*\n```ts\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(snippet).toBeDefined();
    const file = join(mkdtempSync(join(tmpdir(), 'afc-snippet-')), 'verify.ts');
    writeFileSync(file, snippet!);
    const { verifyAfcSignature } = (await import(pathToFileURL(file).href)) as {
      verifyAfcSignature: (raw_body: Buffer, header: string, secret: string, tolerance_s?: number) => boolean;
    };
    const body = Buffer.from('{"id":"evt_1","type":"webhook.test","data":{}}');
    const now_s = Math.floor(Date.now() / 1000);
    const header = signatureHeader(body, ['whsec_new_0123456789abcdef', 'whsec_old_0123456789abcdef'], now_s);
    expect(verifyAfcSignature(body, header, 'whsec_new_0123456789abcdef')).toBe(true);
    expect(verifyAfcSignature(body, header, 'whsec_old_0123456789abcdef')).toBe(true);
    expect(verifyAfcSignature(body, header, 'whsec_other_0123456789abcdef')).toBe(false);
    expect(verifyAfcSignature(Buffer.from(`${body} `), header, 'whsec_new_0123456789abcdef')).toBe(false);
    const stale = signatureHeader(body, ['whsec_new_0123456789abcdef'], now_s - 301);
    expect(verifyAfcSignature(body, stale, 'whsec_new_0123456789abcdef')).toBe(false);
    expect(verifyAfcSignature(body, 'garbage', 'whsec_new_0123456789abcdef')).toBe(false);
  });
});

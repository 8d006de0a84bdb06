// Real local webhook receivers for the webhook tests: HTTPS with a self-signed certificate made
// here (trusted by the worker through WEBHOOK_TLS_CA_FILE), on 127.0.0.2, which the tests
// allowlist; and a trap on 127.0.0.1, which they do not, counting every TCP connection it gets.
// Names resolve through a map the tests control (HostLookup), never through the OS.

import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { HostLookup } from '../../shared/webhooks/destination.ts';

/** Allowlisted in these tests (WEBHOOK_ALLOWED_CIDRS): where receivers listen. */
export const RECEIVER_ADDRESS = '127.0.0.2';
export const RECEIVER_CIDR = '127.0.0.2/32';
/** Not allowlisted: the address an attacker would aim at. */
export const TRAP_ADDRESS = '127.0.0.1';

export interface ReceiverCertificate {
  readonly key: string;
  readonly cert: string;
  /** A file holding the certificate, for WEBHOOK_TLS_CA_FILE. */
  readonly ca_file: string;
}

/** A self-signed certificate for *.receivers.test, valid for a day. */
export async function receiverCertificate(): Promise<ReceiverCertificate> {
  const pems = await generate([{ name: 'commonName', value: 'receivers.test' }], {
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate: new Date(Date.now() + 24 * 3_600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: '*.receivers.test' }] },
    ],
  });
  const ca_file = join(mkdtempSync(join(tmpdir(), 'afc-webhooks-')), 'receiver-ca.pem');
  writeFileSync(ca_file, pems.cert);
  return { key: pems.private, cert: pems.cert, ca_file };
}

export interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly raw_body: string;
}

export interface Receiver {
  readonly port: number;
  readonly received: Received[];
  /** TCP connections accepted, whether or not a request followed. */
  connections: number;
  /** Answers whose connection closed before their body was all sent (the client stopped reading). */
  cut_answers: number;
  close(): Promise<void>;
}

export type Answer = (
  request: Received,
  n: number,
) => { status: number; headers?: Record<string, string>; body?: string };

/** Writes a (possibly huge) answer a slice at a time, waiting for the client to read. */
async function writeInChunks(response: ServerResponse, body: string): Promise<void> {
  const chunk_chars = 64 * 1024;
  for (let at = 0; at < body.length && !response.destroyed; at += chunk_chars) {
    if (!response.write(body.slice(at, at + chunk_chars))) {
      await new Promise((resolve) => {
        response.once('drain', resolve);
        response.once('close', resolve);
      });
    }
  }
  if (!response.destroyed) response.end();
}

/** An HTTPS receiver on `address`, answering with `answer` (200 "ok" by default). */
export async function startReceiver(
  certificate: ReceiverCertificate,
  address: string = RECEIVER_ADDRESS,
  answer: Answer = () => ({ status: 200 }),
): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer(
    { key: certificate.key, cert: certificate.cert },
    (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const entry = { headers: request.headers, raw_body: Buffer.concat(chunks).toString('utf8') };
        received.push(entry);
        const { status, headers, body } = answer(entry, received.length - 1);
        response.on('close', () => {
          if (!response.writableFinished) receiver.cut_answers += 1;
        });
        response.writeHead(status, { 'content-type': 'text/plain', ...headers });
        void writeInChunks(response, body ?? 'ok');
      });
    },
  );
  const receiver: Receiver = {
    port: 0,
    received,
    connections: 0,
    cut_answers: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  server.on('connection', () => {
    receiver.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return Object.assign(receiver, { port: (server.address() as AddressInfo).port });
}

/**
 * Resolves names from `answers` (one list of addresses per name, or a function called per
 * lookup); any other name does not exist.
 */
export function mapLookup(answers: Record<string, string[] | (() => string[])>): HostLookup {
  return async (hostname) => {
    const answer = answers[hostname];
    if (answer === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    }
    const addresses = typeof answer === 'function' ? answer() : answer;
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

/** Polls until `done` holds (no timing assertions: only a generous upper bound). */
export async function waitFor<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
  timeout_ms = 20_000,
): Promise<T> {
  const deadline_ms = Date.now() + timeout_ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline_ms)
      throw new Error(`condition not met within ${timeout_ms} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

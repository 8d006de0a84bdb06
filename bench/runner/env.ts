// The environment the bench gives its children: this machine's service URLs from
// scripts/dev-env.sh (unless already set), with the bench's own databases and vhost.

import { readFileSync } from 'node:fs';

const DEFAULT = /^export (\w+)="\$\{\w+:-(.*)\}"$/;

export function devEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  const script = readFileSync(new URL('../../scripts/dev-env.sh', import.meta.url), 'utf8');
  for (const line of script.split('\n')) {
    const match = DEFAULT.exec(line.trim());
    if (match && !env[match[1]!]) env[match[1]!] = match[2]!;
  }
  return env;
}

/** The same URL with another database (path) name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function withVhost(amqp_url: string, vhost: string): string {
  const parsed = new URL(amqp_url);
  parsed.pathname = `/${encodeURIComponent(vhost)}`;
  return parsed.toString();
}

export interface BenchStores {
  readonly database_url: string;
  readonly mongodb_uri: string;
  readonly amqp_url: string;
  readonly key_prefix: string;
  readonly shards: number;
}

/** The environment of the bench's gateways and workers: its own databases, vhost and Redis prefix. */
export function serviceEnvironment(env: Record<string, string>, stores: BenchStores): Record<string, string> {
  return {
    ...env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: stores.database_url,
    MONGODB_URI: stores.mongodb_uri,
    RABBITMQ_URL: stores.amqp_url,
    REDIS_KEY_PREFIX: stores.key_prefix,
    REDIS_SHARDS: String(stores.shards),
  };
}

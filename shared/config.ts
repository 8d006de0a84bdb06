// Configuration: read from the environment once at startup, validated, frozen.
// A bad or missing value stops the process with the variable's name in the message.
// Secrets never have defaults; the demo start script supplies demo values explicitly.

import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';

export class ConfigError extends Error {
  readonly code = 'CFG_ERR_INVALID';
}

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function required(env: Env, name: string): string {
  const value = read(env, name);
  if (value === undefined) throw new ConfigError(`${name} is required but not set`);
  return value;
}

function url(env: Env, name: string, protocols: readonly string[]): string {
  const value = required(env, name);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use one of ${protocols.join(', ')} (got ${parsed.protocol})`);
  }
  return value;
}

function optionalUrl(env: Env, name: string, fallback: string): string {
  return read(env, name) === undefined ? fallback : url(env, name, ['http:', 'https:']);
}

/** A comma-separated list of `host:port` (empty when unset). */
function hostPorts(env: Env, name: string): readonly string[] {
  const raw = read(env, name);
  if (raw === undefined) return [];
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    const at = entry.lastIndexOf(':');
    const port = Number(entry.slice(at + 1));
    if (at <= 0 || !/^\d+$/.test(entry.slice(at + 1)) || port < 1 || port > 65_535) {
      throw new ConfigError(`${name} must be a comma-separated list of host:port (got "${entry}")`);
    }
  }
  return Object.freeze(entries);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(`${name} must be an integer (got "${raw}")`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(`${name} must be between ${min} and ${max} (got ${value})`);
  return value;
}

function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new ConfigError(`${name} must be a decimal number (got "${raw}")`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(`${name} must be between ${min} and ${max} (got ${value})`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = read(env, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
  }
  return raw as T;
}

function secret(env: Env, name: string, min_length: number): string {
  const value = required(env, name);
  if (value.length < min_length) throw new ConfigError(`${name} must be at least ${min_length} characters`);
  return value;
}

/** A size in MiB (null when unset), returned in bytes. */
function optionalMebibytes(env: Env, name: string, min: number, max: number): number | null {
  return read(env, name) === undefined ? null : integer(env, name, 0, min, max) * 1024 * 1024;
}

function optionalSecret(env: Env, name: string, min_length: number): string | null {
  return read(env, name) === undefined ? null : secret(env, name, min_length);
}

/**
 * The internal listener's port (health, readiness, /metrics): never the public port, or an
 * ingress route to the public port would publish them again. 0 (tests) picks a free port.
 */
function internalPort(env: Env, name: string, fallback: number, public_port: number): number {
  const port = integer(env, name, fallback, 0, 65535);
  if (port !== 0 && port === public_port)
    throw new ConfigError(`${name} must differ from the public port (both ${port})`);
  return port;
}

function timeZone(env: Env, name: string): string {
  const value = read(env, name) ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
  } catch {
    throw new ConfigError(`${name} is not a known IANA time zone (got "${value}")`);
  }
  return value;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const NODE_ENVS = ['production', 'development', 'test'] as const;

export interface CommonConfig {
  readonly node_env: (typeof NODE_ENVS)[number];
  readonly log_level: (typeof LOG_LEVELS)[number];
  readonly database_url: string;
  readonly mongodb_uri: string;
  readonly redis_url: string;
  /** Seed nodes (`host:port`) of a Redis Cluster; empty: the single node of redis_url. */
  readonly redis_cluster_nodes: readonly string[];
  readonly rabbitmq_url: string;
  /** Broker nodes (`host:port`) tried in turn; empty: the host of rabbitmq_url. */
  readonly rabbitmq_hosts: readonly string[];
  readonly marqeta_base_url: string;
  /** Prefix of every Redis key this deployment owns. */
  readonly redis_key_prefix: string;
  /** Number of hash-tag shards; fixed per deployment (changing it means a rebuild from the ledger). */
  readonly redis_shards: number;
  /** Program time zone for spend windows (day/month boundaries). */
  readonly program_time_zone: string;
}

/**
 * Load shedding (@fastify/under-pressure, shared/http/overload.ts): past any threshold a request
 * is answered 503 at once (with Retry-After) instead of queueing until every answer is late.
 */
export interface OverloadConfig {
  /**
   * Mean event-loop delay that starts shedding; 0 turns the check off. A sample interval (250 ms)
   * in which the loop never turned counts as overload whatever the threshold, so a process that
   * shares its loop with other work (a gateway inside a test worker) sets 0.
   */
  readonly overload_event_loop_delay_ms_max: number;
  /** V8 heap in use that starts shedding; null: 90 % of the V8 heap limit. */
  readonly overload_heap_used_bytes_max: number | null;
  /** Resident memory that starts shedding; null: not checked (set it below the container limit). */
  readonly overload_rss_bytes_max: number | null;
  readonly overload_retry_after_s: number;
  /**
   * After SIGTERM, readiness answers 503 for this long while requests are still served, so load
   * balancers stop sending traffic before the listener closes. 0 where the orchestrator already
   * waits (the Kubernetes manifests' preStop sleep).
   */
  readonly shutdown_drain_delay_ms: number;
}

export interface GatewayConfig extends CommonConfig, OverloadConfig {
  /** The public listener: only what Marqeta calls (JIT Funding, notifications). */
  readonly host: string;
  readonly port: number;
  /** The internal listener: health, readiness and /metrics, for probes and Prometheus only. */
  readonly internal_host: string;
  readonly internal_port: number;
  /**
   * Pending-connection queue of the listener. Node's default (511) overflows when a thousand
   * clients connect at once (measured: dropped SYNs, retried by the kernel 1-7 s later, so those
   * first requests wait seconds); the kernel caps it at net.core.somaxconn.
   */
  readonly listen_backlog: number;
  readonly basic_auth_user: string;
  readonly basic_auth_password: string;
  /** Also accepted while a password rotation is under way (docs/operations.md); null outside one. */
  readonly basic_auth_password_next: string | null;
  /** Basic-auth credentials Marqeta uses for webhook notifications. */
  readonly webhook_user: string;
  readonly webhook_password: string;
  /** Also accepted while the webhook password is rotated; null outside a rotation. */
  readonly webhook_password_next: string | null;
  /** Optional HMAC secret: when set, notifications must carry a valid signature of the raw body. */
  readonly webhook_hmac_secret: string | null;
  readonly webhook_signature_header: string;
  readonly webhook_hmac_algorithm: 'sha1' | 'sha256';
  /** Budget for the Redis decision call; past it the answer is a `timeout` decline. */
  readonly decision_budget_ms: number;
  /** Replicas that must hold a decision before it is answered (WAIT); 0: asynchronous replication. */
  readonly redis_wait_replicas: number;
  /** How long that WAIT may block; shorter than the decision budget. */
  readonly redis_wait_timeout_ms: number;
  /** Budget for loading a missed card from PostgreSQL/MongoDB into Redis. */
  readonly cache_fill_budget_ms: number;
  /**
   * Factor applied to the seed's cache TTLs (user 3600 s, card 900 s, limits 300 s, balance
   * 600 s). 1 in production; the bench scales them down to cross an expiry within a phase.
   */
  readonly cache_ttl_scale: number;
  /** A cached part read in this last share of its TTL (percent) is refreshed in the background. */
  readonly cache_refresh_ahead_percent: number;
  /** Background refreshes in flight at most (per gateway); past it a due card waits for a later read. */
  readonly cache_refresh_concurrency_max: number;
  /** At start, cards whose live ledger was used within this many seconds are loaded (0: off). */
  readonly cache_preload_active_s: number;
  readonly cache_preload_cards_max: number;
  /** The start-up preload stops after this long, loaded or not. */
  readonly cache_preload_budget_ms: number;
  readonly body_limit_bytes: number;
  /** Answer a smaller approved amount when pos.partial_approval_capable (Marqeta's side is unconfirmed). */
  readonly partial_approval_enabled: boolean;
  /** How long a JIT token's decision is remembered (replays get the first answer). */
  readonly idempotency_ttl_s: number;
  /**
   * Program setting: what a request the gateway cannot decide (Redis down, over the budget, a
   * failed cache fill) is answered. `decline`: 402 system_error/timeout, Marqeta declines.
   * `standin`: 503 GW_ERR_UNDECIDED, an application error, so Marqeta's Commando Mode decides.
   */
  readonly undecided_answer: 'decline' | 'standin';
  /** Uncleared authorizations release their hold after this many days. */
  readonly hold_expiry_days: number;
  readonly hold_expiry_scan_interval_ms: number;
  /** Off lets an operator run the relay elsewhere; every gateway relays by default. */
  readonly outbox_relay_enabled: boolean;
  /** Outbox entries read per XREADGROUP. */
  readonly outbox_batch_max: number;
  /** Decisions in one AMQP message (shared/decision-batch.ts), and its body size in bytes. */
  readonly relay_batch_max: number;
  readonly relay_batch_bytes_max: number;
  /** How long the relay waits after a write before it reads: the decisions of that time travel together. */
  readonly relay_linger_ms: number;
  /** Outbox entries pending longer than this on a dead relay are claimed by a live one. */
  readonly outbox_claim_idle_ms: number;
}

/** Marqeta Core API client (worker). Per-attempt timeouts; retries only on 429, 5xx and network errors. */
export interface MarqetaClientConfig {
  readonly marqeta_app_token: string;
  readonly marqeta_admin_token: string;
  readonly marqeta_connect_timeout_ms: number;
  /** Wait for response headers, then again for the body, per attempt. */
  readonly marqeta_timeout_ms: number;
  readonly marqeta_max_retries: number;
  readonly marqeta_connections: number;
  /** Card product used when a card-issue command names none (not a secret). */
  readonly marqeta_card_product_token: string;
}

/**
 * Where outbound webhooks may go (shared/webhooks/destination.ts): checked by the API when an
 * endpoint is registered and by the worker at every send.
 */
export interface WebhookDestinationConfig {
  /** http:// destinations; development only (refused with NODE_ENV=production). */
  readonly webhook_allow_http: boolean;
  /** Private ranges a program's own receivers live in, allowed although not global unicast. */
  readonly webhook_allowed_cidrs: readonly string[];
  /** The webhook work queue; the API publishes test events and retries to it. */
  readonly webhooks_queue: string;
}

/** Outbound webhooks (worker). */
export interface WebhookConfig extends WebhookDestinationConfig {
  /** Extra CA certificates (PEM) trusted for receivers, besides the system's (private CAs, tests). */
  readonly webhook_tls_extra_ca_pem: string | null;
  /** One delivery attempt: connect, headers and body together. */
  readonly webhook_timeout_ms: number;
  /** A delivery is retried until this long after its first attempt, then dead-lettered. */
  readonly webhook_retry_horizon_ms: number;
  /** Deliveries in flight at once per consumer. */
  readonly webhook_concurrency: number;
}

/** Decision consumer (worker): how many messages are held, worked on and written at once. */
export interface DecisionConsumerConfig {
  /**
   * Work queues of business and personal decisions; another name isolates a test or a replay run
   * (it is then not bound to afc.events, and its consumer takes decisions of either kind).
   */
  readonly decisions_queue: string;
  readonly personal_decisions_queue: string;
  /** Messages in flight per consumer (at most WORKER_PREFETCH). */
  readonly concurrency: number;
  /** Decisions written per SQL transaction / bulkWrite. */
  readonly batch_max: number;
  /** How long the first message of a batch waits for company before the batch is written. */
  readonly batch_linger_ms: number;
}

export interface WorkerConfig
  extends CommonConfig,
    MarqetaClientConfig,
    WebhookConfig,
    DecisionConsumerConfig {
  readonly marqeta_app_token: string;
  readonly marqeta_admin_token: string;
  /** The worker's only listener, internal: health, readiness and /metrics. */
  readonly health_port: number;
  readonly prefetch: number;
}

function common(env: Env): CommonConfig {
  return {
    node_env: oneOf(env, 'NODE_ENV', 'production', NODE_ENVS),
    log_level: oneOf(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
    database_url: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    mongodb_uri: url(env, 'MONGODB_URI', ['mongodb:', 'mongodb+srv:']),
    redis_url: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redis_cluster_nodes: hostPorts(env, 'REDIS_CLUSTER_NODES'),
    rabbitmq_url: url(env, 'RABBITMQ_URL', ['amqp:', 'amqps:']),
    rabbitmq_hosts: hostPorts(env, 'RABBITMQ_HOSTS'),
    marqeta_base_url: url(env, 'MARQETA_BASE_URL', ['http:', 'https:']),
    redis_key_prefix: read(env, 'REDIS_KEY_PREFIX') ?? 'afc',
    redis_shards: integer(env, 'REDIS_SHARDS', 64, 1, 16384),
    program_time_zone: timeZone(env, 'PROGRAM_TIME_ZONE'),
  };
}

function overload(env: Env, event_loop_delay_ms_max: number): OverloadConfig {
  return {
    overload_event_loop_delay_ms_max: integer(
      env,
      'OVERLOAD_EVENT_LOOP_DELAY_MS_MAX',
      event_loop_delay_ms_max,
      0,
      10_000,
    ),
    overload_heap_used_bytes_max: optionalMebibytes(env, 'OVERLOAD_HEAP_USED_MB_MAX', 16, 65_536),
    overload_rss_bytes_max: optionalMebibytes(env, 'OVERLOAD_RSS_MB_MAX', 32, 262_144),
    overload_retry_after_s: integer(env, 'OVERLOAD_RETRY_AFTER_S', 2, 1, 600),
    shutdown_drain_delay_ms: integer(env, 'SHUTDOWN_DRAIN_DELAY_MS', 0, 0, 15_000),
  };
}

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const port = integer(env, 'GATEWAY_PORT', 8080, 0, 65535);
  const decision_budget_ms = integer(env, 'DECISION_BUDGET_MS', 50, 2, 2500);
  return Object.freeze({
    ...common(env),
    // Marqeta waits 3 s: a request that already waited 300 ms for the loop is better shed at once.
    ...overload(env, 300),
    host: read(env, 'GATEWAY_HOST') ?? '0.0.0.0',
    port,
    internal_host: read(env, 'GATEWAY_INTERNAL_HOST') ?? '0.0.0.0',
    internal_port: internalPort(env, 'GATEWAY_INTERNAL_PORT', 9080, port),
    listen_backlog: integer(env, 'GATEWAY_LISTEN_BACKLOG', 4096, 1, 65535),
    basic_auth_user: required(env, 'GATEWAY_BASIC_AUTH_USER'),
    // Marqeta requires 20-50 characters for the funding source password.
    basic_auth_password: secret(env, 'GATEWAY_BASIC_AUTH_PASSWORD', 20),
    basic_auth_password_next: optionalSecret(env, 'GATEWAY_BASIC_AUTH_PASSWORD_NEXT', 20),
    webhook_user: required(env, 'MARQETA_WEBHOOK_USER'),
    webhook_password: secret(env, 'MARQETA_WEBHOOK_PASSWORD', 20),
    webhook_password_next: optionalSecret(env, 'MARQETA_WEBHOOK_PASSWORD_NEXT', 20),
    webhook_hmac_secret: read(env, 'MARQETA_WEBHOOK_HMAC_SECRET') ?? null,
    webhook_signature_header: (
      read(env, 'MARQETA_WEBHOOK_SIGNATURE_HEADER') ?? 'x-marqeta-signature'
    ).toLowerCase(),
    webhook_hmac_algorithm: oneOf(env, 'MARQETA_WEBHOOK_HMAC_ALGORITHM', 'sha256', [
      'sha1',
      'sha256',
    ] as const),
    decision_budget_ms,
    redis_wait_replicas: integer(env, 'REDIS_WAIT_REPLICAS', 0, 0, 16),
    redis_wait_timeout_ms: integer(env, 'REDIS_WAIT_TIMEOUT_MS', 20, 1, decision_budget_ms - 1),
    cache_fill_budget_ms: integer(env, 'CACHE_FILL_BUDGET_MS', 500, 1, 2500),
    cache_ttl_scale: decimal(env, 'CACHE_TTL_SCALE', 1, 0.001, 1),
    cache_refresh_ahead_percent: integer(env, 'CACHE_REFRESH_AHEAD_PERCENT', 50, 1, 90),
    cache_refresh_concurrency_max: integer(env, 'CACHE_REFRESH_CONCURRENCY_MAX', 8, 1, 256),
    cache_preload_active_s: integer(env, 'CACHE_PRELOAD_ACTIVE_S', 3600, 0, 40 * 24 * 3600),
    cache_preload_cards_max: integer(env, 'CACHE_PRELOAD_CARDS_MAX', 10_000, 0, 1_000_000),
    cache_preload_budget_ms: integer(env, 'CACHE_PRELOAD_BUDGET_MS', 5_000, 0, 60_000),
    body_limit_bytes: integer(env, 'BODY_LIMIT_BYTES', 64 * 1024, 1024, 1024 * 1024),
    partial_approval_enabled:
      oneOf(env, 'PARTIAL_APPROVAL_ENABLED', 'false', ['true', 'false'] as const) === 'true',
    idempotency_ttl_s: integer(env, 'IDEMPOTENCY_TTL_S', 8 * 24 * 3600, 3600, 90 * 24 * 3600),
    undecided_answer: oneOf(env, 'UNDECIDED_ANSWER', 'decline', ['decline', 'standin'] as const),
    hold_expiry_days: integer(env, 'HOLD_EXPIRY_DAYS', 7, 1, 90),
    hold_expiry_scan_interval_ms: integer(env, 'HOLD_EXPIRY_SCAN_INTERVAL_MS', 60_000, 1_000, 3_600_000),
    outbox_relay_enabled: oneOf(env, 'OUTBOX_RELAY_ENABLED', 'true', ['true', 'false'] as const) === 'true',
    outbox_batch_max: integer(env, 'OUTBOX_BATCH_MAX', 512, 1, 10_000),
    relay_batch_max: integer(env, 'RELAY_BATCH_MAX', 256, 1, 10_000),
    relay_batch_bytes_max: integer(env, 'RELAY_BATCH_BYTES_MAX', 256 * 1024, 4 * 1024, 16 * 1024 * 1024),
    relay_linger_ms: integer(env, 'RELAY_LINGER_MS', 5, 0, 50),
    outbox_claim_idle_ms: integer(env, 'OUTBOX_CLAIM_IDLE_MS', 30_000, 1000, 3_600_000),
  });
}

function marqetaClient(env: Env): MarqetaClientConfig {
  return {
    marqeta_app_token: required(env, 'MARQETA_APP_TOKEN'),
    marqeta_admin_token: required(env, 'MARQETA_ADMIN_TOKEN'),
    marqeta_connect_timeout_ms: integer(env, 'MARQETA_CONNECT_TIMEOUT_MS', 2_000, 100, 30_000),
    marqeta_timeout_ms: integer(env, 'MARQETA_TIMEOUT_MS', 5_000, 100, 60_000),
    marqeta_max_retries: integer(env, 'MARQETA_MAX_RETRIES', 3, 0, 3),
    marqeta_connections: integer(env, 'MARQETA_CONNECTIONS', 10, 1, 256),
    marqeta_card_product_token: read(env, 'MARQETA_CARD_PRODUCT_TOKEN') ?? 'afc_virtual_card',
  };
}

function cidrList(env: Env, name: string): string[] {
  const cidrs = (read(env, name) ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  for (const cidr of cidrs) {
    if (!ipaddr.isValidCIDR(cidr))
      throw new ConfigError(`${name}: "${cidr}" is not a CIDR (e.g. 10.0.0.0/8)`);
    if (ipaddr.parseCIDR(cidr)[1] === 0)
      throw new ConfigError(`${name}: "${cidr}" would allow every address`);
  }
  return cidrs;
}

function pemFile(env: Env, name: string): string | null {
  const path = read(env, name);
  if (path === undefined) return null;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`${name}: cannot read ${path}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError(`${name}: ${path} holds no PEM certificate`);
  return pem;
}

function webhookDestination(env: Env): WebhookDestinationConfig {
  const allow_http = oneOf(env, 'WEBHOOK_ALLOW_HTTP', 'false', ['true', 'false'] as const) === 'true';
  if (allow_http && oneOf(env, 'NODE_ENV', 'production', NODE_ENVS) === 'production') {
    throw new ConfigError('WEBHOOK_ALLOW_HTTP=true is for development only (NODE_ENV is production)');
  }
  return {
    webhook_allow_http: allow_http,
    webhook_allowed_cidrs: cidrList(env, 'WEBHOOK_ALLOWED_CIDRS'),
    webhooks_queue: queueName(env, 'WEBHOOKS_QUEUE', 'afc.webhooks'),
  };
}

function webhooks(env: Env): WebhookConfig {
  return {
    ...webhookDestination(env),
    webhook_tls_extra_ca_pem: pemFile(env, 'WEBHOOK_TLS_CA_FILE'),
    webhook_timeout_ms: integer(env, 'WEBHOOK_TIMEOUT_MS', 5_000, 100, 30_000),
    webhook_retry_horizon_ms: integer(
      env,
      'WEBHOOK_RETRY_HORIZON_MS',
      24 * 3_600_000,
      0,
      12 * 24 * 3_600_000,
    ),
    webhook_concurrency: integer(env, 'WEBHOOK_CONCURRENCY', 16, 1, 256),
  };
}

function queueName(env: Env, name: string, fallback: string): string {
  const queue = read(env, name) ?? fallback;
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(queue)) {
    throw new ConfigError(`${name} must be 1-200 of A-Z a-z 0-9 _ . : - (got "${queue}")`);
  }
  return queue;
}

function decisionConsumer(env: Env, prefetch: number): DecisionConsumerConfig {
  return {
    decisions_queue: queueName(env, 'WORKER_DECISIONS_QUEUE', 'afc.decisions'),
    personal_decisions_queue: queueName(env, 'WORKER_PERSONAL_DECISIONS_QUEUE', 'afc.decisions.personal'),
    // Messages beyond the prefetch window never arrive, so more concurrency would sit idle.
    concurrency: integer(env, 'WORKER_CONCURRENCY', Math.min(128, prefetch), 1, prefetch),
    batch_max: integer(env, 'WORKER_BATCH_MAX', 100, 1, 1_000),
    // Below a full batch, a write waits this long for more: at 150-400 decisions/s, 25 ms instead
    // of 5 halved PostgreSQL's CPU per decision (fewer transactions of ~9 round trips each).
    batch_linger_ms: integer(env, 'WORKER_BATCH_LINGER_MS', 25, 0, 1_000),
  };
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const prefetch = integer(env, 'WORKER_PREFETCH', 256, 1, 10_000);
  return Object.freeze({
    ...common(env),
    ...marqetaClient(env),
    ...webhooks(env),
    health_port: integer(env, 'WORKER_HEALTH_PORT', 8081, 0, 65535),
    prefetch,
    ...decisionConsumer(env, prefetch),
  });
}

export interface ApiConfig extends CommonConfig, OverloadConfig, WebhookDestinationConfig {
  /** The public listener: the management API's routes and /docs. */
  readonly host: string;
  readonly port: number;
  /** The internal listener: health, readiness and /metrics, for probes and Prometheus only. */
  readonly internal_host: string;
  readonly internal_port: number;
  readonly body_limit_bytes: number;
  /** Requests per API key per window (@fastify/rate-limit, counted in Redis). */
  readonly rate_limit_max: number;
  readonly rate_limit_window_ms: number;
  /**
   * Delay of the second cache delete after an update: a gateway fill that read the database
   * before the commit may still write the old state after the first delete. 0 disables it.
   */
  readonly cache_redelete_ms: number;
  /** The operator console reads health and decision times here (gateway internal listener). */
  readonly console_gateway_internal_url: string;
  /** The operator console reads the worker's health here (its WORKER_HEALTH_PORT listener). */
  readonly console_worker_health_url: string;
}

export function loadApiConfig(env: Env = process.env): ApiConfig {
  const port = integer(env, 'API_PORT', 8082, 0, 65535);
  return Object.freeze({
    ...common(env),
    ...overload(env, 1_000),
    host: read(env, 'API_HOST') ?? '0.0.0.0',
    port,
    internal_host: read(env, 'API_INTERNAL_HOST') ?? '0.0.0.0',
    internal_port: internalPort(env, 'API_INTERNAL_PORT', 9082, port),
    body_limit_bytes: integer(env, 'API_BODY_LIMIT_BYTES', 64 * 1024, 1024, 1024 * 1024),
    rate_limit_max: integer(env, 'API_RATE_LIMIT_MAX', 300, 1, 1_000_000),
    rate_limit_window_ms: integer(env, 'API_RATE_LIMIT_WINDOW_MS', 60_000, 1_000, 3_600_000),
    cache_redelete_ms: integer(env, 'API_CACHE_REDELETE_MS', 1_000, 0, 10_000),
    console_gateway_internal_url: optionalUrl(env, 'CONSOLE_GATEWAY_INTERNAL_URL', 'http://127.0.0.1:9080'),
    console_worker_health_url: optionalUrl(env, 'CONSOLE_WORKER_HEALTH_URL', 'http://127.0.0.1:8081'),
    ...webhookDestination(env),
  });
}

export interface FakeMarqetaConfig {
  readonly host: string;
  readonly port: number;
  readonly base_path: string;
  readonly app_token: string;
  readonly admin_token: string;
  readonly log_level: (typeof LOG_LEVELS)[number];
}

/** The fake Marqeta API (tests and demo) listens where MARQETA_BASE_URL points, by default. */
export function loadFakeMarqetaConfig(env: Env = process.env): FakeMarqetaConfig {
  const base = new URL(url(env, 'MARQETA_BASE_URL', ['http:']));
  return Object.freeze({
    host: read(env, 'FAKE_MARQETA_HOST') ?? '127.0.0.1',
    port: integer(env, 'FAKE_MARQETA_PORT', Number(base.port || 80), 0, 65535),
    base_path: base.pathname.replace(/\/$/, '') || '/v3',
    app_token: required(env, 'MARQETA_APP_TOKEN'),
    admin_token: required(env, 'MARQETA_ADMIN_TOKEN'),
    log_level: oneOf(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
  });
}

/** Runs a loader and turns a ConfigError into a one-line message and exit code 78 (EX_CONFIG). */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

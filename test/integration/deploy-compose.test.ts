// compose.yaml is a working local system: pinned images, health checks, start order, durable
// volumes, Redis AOF, and an environment every process's config loader accepts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import pkg from '../../package.json' with { type: 'json' };
import {
  loadApiConfig,
  loadFakeMarqetaConfig,
  loadGatewayConfig,
  loadWorkerConfig,
} from '../../shared/config.ts';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: string[];
  restart?: string;
  stop_grace_period?: string;
}

const compose = parse(readFileSync(new URL('../../compose.yaml', import.meta.url), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const ONE_SHOTS = ['migrate', 'seed'];
const APPS = ['gateway', 'worker', 'api'];

function service(name: string): Service {
  const found = services[name];
  if (found === undefined) throw new Error(`compose.yaml has no service ${name}`);
  return found;
}

describe('compose.yaml', () => {
  it('runs the pinned data services: PostgreSQL 15, MongoDB 6, Redis 7, RabbitMQ 3.12 with management', () => {
    expect(service('postgres').image).toBe('postgres:15');
    expect(service('mongo').image).toBe('mongo:6');
    expect(service('redis').image).toBe('redis:7');
    expect(service('rabbitmq').image).toBe('rabbitmq:3.12-management');
  });

  it('builds the gateway, worker and api from their own Dockerfiles', () => {
    for (const name of APPS) expect(service(name).build?.dockerfile).toBe(`Dockerfile.${name}`);
  });

  it('has a health check on every long-running service; one-shots run once', () => {
    for (const [name, definition] of Object.entries(services)) {
      if (ONE_SHOTS.includes(name)) {
        expect(definition.restart, name).toBe('no');
        continue;
      }
      expect(definition.healthcheck?.test?.[0], name).toBe('CMD');
    }
  });

  it('starts in order: data services healthy, then migrate, then seed, then the processes', () => {
    for (const [name, definition] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(definition.depends_on ?? {})) {
        const expected = ONE_SHOTS.includes(dependency)
          ? 'service_completed_successfully'
          : 'service_healthy';
        expect(condition, `${name} -> ${dependency}`).toBe(expected);
        expect(service(dependency).healthcheck !== undefined || ONE_SHOTS.includes(dependency)).toBe(true);
      }
    }
    for (const name of APPS) {
      expect(Object.keys(service(name).depends_on ?? {})).toEqual(
        expect.arrayContaining(['postgres', 'mongo', 'redis', 'rabbitmq', 'migrate']),
      );
    }
    expect(Object.keys(service('migrate').depends_on ?? {})).toEqual(
      expect.arrayContaining(['postgres', 'mongo']),
    );
    expect(service('seed').depends_on?.migrate?.condition).toBe('service_completed_successfully');
    expect(service('gateway').depends_on?.seed?.condition).toBe('service_completed_successfully');
  });

  it('runs the npm scripts that exist: migrate, seed:demo and the fake Marqeta API', () => {
    expect(service('migrate').command).toEqual(['npm', 'run', '--silent', 'migrate']);
    expect(service('seed').command).toEqual(['npm', 'run', '--silent', 'seed:demo']);
    const scripts = pkg.scripts as Record<string, string>;
    for (const script of ['migrate', 'seed:demo', 'fake-marqeta'])
      expect(scripts[script], script).toBeDefined();
    expect(service('fake-marqeta').command).toEqual(['node', scripts['fake-marqeta']!.replace(/^node /, '')]);
    expect(service('fake-marqeta').ports).toContain('127.0.0.1:8090:8090');
  });

  it('keeps data in named volumes', () => {
    const mounts: Record<string, string> = {
      postgres: '/var/lib/postgresql/data',
      mongo: '/data/db',
      redis: '/data',
      rabbitmq: '/var/lib/rabbitmq',
    };
    for (const [name, path] of Object.entries(mounts)) {
      const volume = service(name).volumes?.find((mount) => mount.endsWith(`:${path}`));
      expect(volume, name).toBeDefined();
      expect(Object.keys(compose.volumes)).toContain(volume!.split(':')[0]);
    }
  });

  it('runs Redis with the append-only file, fsync every second', () => {
    const command = service('redis').command!.join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--appendfsync always');
  });

  it('gives every process an environment its config loader accepts, pointing at the demo services', () => {
    const env = (name: string) => service(name).environment ?? {};
    const gateway = loadGatewayConfig(env('gateway'));
    const worker = loadWorkerConfig(env('worker'));
    const api = loadApiConfig(env('api'));
    const fake = loadFakeMarqetaConfig(env('fake-marqeta'));
    expect([gateway.port, gateway.internal_port]).toEqual([8080, 9080]);
    expect(worker.health_port).toBe(8081);
    expect([api.port, api.internal_port]).toEqual([8082, 9082]);
    expect(fake.port).toBe(8090);
    expect(fake.host).toBe('0.0.0.0');
    for (const config of [gateway, worker, api]) {
      expect(new URL(config.marqeta_base_url).host).toBe('fake-marqeta:8090');
      expect(new URL(config.database_url).host).toBe('postgres:5432');
      expect(new URL(config.redis_url).host).toBe('redis:6379');
    }
    // The worker calls the fake Marqeta API with the credentials the fake expects.
    expect([worker.marqeta_app_token, worker.marqeta_admin_token]).toEqual([
      fake.app_token,
      fake.admin_token,
    ]);
    // The demo seed runs the management API's service code with its configuration.
    expect(loadApiConfig(env('seed')).database_url).toBe(api.database_url);
    for (const name of ONE_SHOTS) {
      expect(env(name).DATABASE_URL).toBe(env('gateway').DATABASE_URL);
      expect(env(name).MONGODB_URI).toBe(env('gateway').MONGODB_URI);
    }
  });

  it('uses only obviously-demo secret values', () => {
    const secrets = /PASSWORD|TOKEN|SECRET|_PASS$/;
    for (const [name, definition] of Object.entries(services)) {
      for (const [key, value] of Object.entries(definition.environment ?? {})) {
        if (secrets.test(key)) expect(String(value), `${name}.${key}`).toMatch(/demo/i);
        const url = /^[a-z]+:\/\//.test(String(value)) ? new URL(String(value)) : undefined;
        if (url?.password) expect(url.password, `${name}.${key}`).toMatch(/^demo-/);
      }
    }
  });

  it('gives the processes more than their 30 s drain to stop', () => {
    for (const name of APPS)
      expect(Number.parseInt(service(name).stop_grace_period ?? '10s', 10)).toBeGreaterThanOrEqual(35);
  });
});

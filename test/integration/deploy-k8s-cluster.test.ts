// The Kubernetes cluster option (deploy/k8s/optional/cluster): a pinned Redis Cluster chart with
// values for 3 masters and a replica each, a 3-node RabbitMQ cluster whose queues default to
// quorum, and the settings that point every process at them, which each config loader accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadApiConfig, loadGatewayConfig, loadWorkerConfig } from '../../shared/config.ts';

const CLUSTER = new URL('../../deploy/k8s/optional/cluster/', import.meta.url).pathname;
const BASE = new URL('../../deploy/k8s/base/', import.meta.url).pathname;

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML, checked field by field below
type Manifest = Record<string, any>;
const read = (dir: string, file: string) => parse(readFileSync(join(dir, file), 'utf8')) as Manifest;

const component = read(CLUSTER, 'kustomization.yaml');

/** KEY=value literals of a configMapGenerator entry. */
function literals(generator: Manifest): Record<string, string> {
  return Object.fromEntries(
    (generator.literals as string[]).map((literal) => [
      literal.slice(0, literal.indexOf('=')),
      literal.slice(literal.indexOf('=') + 1),
    ]),
  );
}

describe('Kubernetes cluster option', () => {
  it('is a component with a pinned Redis Cluster chart and the RabbitMQ cluster', () => {
    expect(component.kind).toBe('Component');
    expect(component.resources).toEqual(['rabbitmq-cluster.yaml']);
    const [chart] = component.helmCharts as Manifest[];
    expect(chart).toMatchObject({ name: 'redis-cluster', repo: 'oci://registry-1.docker.io/bitnamicharts' });
    expect(chart!.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('runs 3 Redis masters with a replica each, money state never evicted, AOF on', () => {
    const values = read(CLUSTER, (component.helmCharts as Manifest[])[0]!.valuesFile);
    expect(values.cluster).toEqual({ nodes: 6, replicas: 1 });
    const config = values.redis.configmap as string;
    expect(config).toMatch(/^maxmemory-policy volatile-lru$/m);
    expect(config).toMatch(/^appendonly yes$/m);
    expect(config).toMatch(/^cluster-node-timeout \d+$/m);
    expect(values.redis.podAntiAffinityPreset).toBe('hard');
  });

  it('runs 3 RabbitMQ nodes with quorum queues by default and a pinned image', () => {
    const rabbit = read(CLUSTER, 'rabbitmq-cluster.yaml');
    expect(rabbit).toMatchObject({ apiVersion: 'rabbitmq.com/v1beta1', kind: 'RabbitmqCluster' });
    expect(rabbit.spec.replicas).toBe(3);
    expect(rabbit.spec.image).toMatch(/^rabbitmq:\d+\.\d+\.\d+/);
    expect(rabbit.spec.rabbitmq.additionalConfig).toMatch(/^default_queue_type = quorum$/m);
    expect(rabbit.spec.rabbitmq.additionalConfig).toMatch(/^cluster_partition_handling = pause_minority$/m);
  });

  it('points every process at both clusters, and each config loader accepts the settings', () => {
    const [merge] = component.configMapGenerator as Manifest[];
    const base = (read(BASE, 'kustomization.yaml').configMapGenerator as Manifest[])[0]!;
    expect(merge).toMatchObject({ name: base.name, behavior: 'merge' });
    const settings = literals(merge!);
    expect(settings.REDIS_CLUSTER_NODES!.split(',')).toHaveLength(3);
    expect(settings.RABBITMQ_HOSTS!.split(',')).toHaveLength(3);
    const env = {
      ...literals(base),
      ...settings,
      DATABASE_URL: 'postgres://afc:x@postgres:5432/afc',
      MONGODB_URI: 'mongodb://afc:x@mongo:27017/afc',
      REDIS_URL: 'redis://:x@afc-redis-cluster:6379',
      RABBITMQ_URL: 'amqp://afc:x@afc-rabbitmq:5672',
      GATEWAY_BASIC_AUTH_USER: 'marqeta',
      GATEWAY_BASIC_AUTH_PASSWORD: 'p'.repeat(24),
      MARQETA_WEBHOOK_USER: 'marqeta',
      MARQETA_WEBHOOK_PASSWORD: 'w'.repeat(24),
      MARQETA_APP_TOKEN: 'app',
      MARQETA_ADMIN_TOKEN: 'admin',
    };
    const gateway = loadGatewayConfig(env);
    expect(gateway.redis_cluster_nodes).toHaveLength(3);
    expect(gateway.rabbitmq_hosts).toHaveLength(3);
    expect(gateway.redis_wait_replicas).toBe(1);
    expect(gateway.redis_wait_timeout_ms).toBeLessThan(gateway.decision_budget_ms);
    expect(loadWorkerConfig(env).redis_cluster_nodes).toEqual(gateway.redis_cluster_nodes);
    expect(loadApiConfig(env).rabbitmq_hosts).toEqual(gateway.rabbitmq_hosts);
  });
});

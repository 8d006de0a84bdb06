// Every Redis the project configures has a memory limit and volatile-lru (issue 20): compose,
// the optional in-cluster Redis of deploy/k8s, the Redis scripts/services.sh starts, and the
// chaos suite's private Redis. The k8s container has room above maxmemory for the AOF rewrite.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { REDIS_MEMORY } from '../../chaos/system.ts';
import { memoryWarning } from '../../gateway/decide/redis-memory.ts';
import { kubectlAvailable, renderedExample } from '../support/kustomize.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Redis's memory units: k/m/g are powers of 1000, kb/mb/gb powers of 1024 (redis.conf). */
const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
};
function redisBytes(text: string): number {
  const match = /^(\d+)(kb|mb|gb|k|m|g)?$/i.exec(text);
  if (match === null) throw new Error(`not a Redis memory size: ${text}`);
  return Number(match[1]) * UNITS[(match[2] ?? '').toLowerCase()]!;
}

/** `--maxmemory X --maxmemory-policy Y` out of an argument list. */
function fromArgs(args: readonly string[]) {
  const at = (flag: string) => args[args.indexOf(flag) + 1] ?? '';
  return { maxmemory: redisBytes(at('--maxmemory')), policy: at('--maxmemory-policy') };
}

function expectBoundedVolatileLru(where: string, setting: { maxmemory: number; policy: string }) {
  expect(setting.policy, where).toBe('volatile-lru');
  expect(setting.maxmemory, where).toBeGreaterThan(0);
  expect(memoryWarning(setting.policy, setting.maxmemory), where).toBeNull();
}

describe('Redis memory settings', () => {
  it('compose.yaml', () => {
    const compose = parse(read('compose.yaml')) as { services: { redis: { command: string[] } } };
    expectBoundedVolatileLru('compose', fromArgs(compose.services.redis.command));
  });

  it('the Redis scripts/services.sh starts (one already running is left alone)', () => {
    const script = read('scripts/services.sh');
    const start = script.slice(
      script.indexOf('redis-server'),
      script.indexOf('\nfi', script.indexOf('redis-server')),
    );
    expectBoundedVolatileLru('services.sh', fromArgs(start.replaceAll('\\\n', ' ').split(/\s+/)));
  });

  it("the chaos suite's private Redis", () => {
    expectBoundedVolatileLru('chaos', fromArgs(REDIS_MEMORY));
  });

  it('deploy/k8s/optional/redis: redis.conf, and a container limit well above maxmemory', () => {
    const conf = Object.fromEntries(
      read('deploy/k8s/optional/redis/redis.conf')
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.startsWith('#'))
        .map((line) => [line.split(' ')[0]!, line.slice(line.indexOf(' ') + 1)]),
    );
    const setting = { maxmemory: redisBytes(conf.maxmemory!), policy: conf['maxmemory-policy']! };
    expectBoundedVolatileLru('k8s redis.conf', setting);
    expect(conf.appendonly).toBe('yes');
    const [statefulset] = parseAllDocuments(read('deploy/k8s/optional/redis/redis.yaml')).map(
      (doc) =>
        doc.toJS() as {
          kind: string;
          spec: { template: { spec: { containers: Array<{ resources: { limits: { memory: string } } }> } } };
        },
    );
    expect(statefulset!.kind).toBe('StatefulSet');
    const limit = statefulset!.spec.template.spec.containers[0]!.resources.limits.memory;
    expect(limit).toMatch(/^\d+Gi$/);
    expect(Number.parseInt(limit, 10) * 1024 ** 3).toBeGreaterThanOrEqual(1.4 * setting.maxmemory);
  });

  it.skipIf(!kubectlAvailable())('deploy/k8s/optional/redis renders with the example overlay', () => {
    const manifests = renderedExample(['redis']);
    const config = manifests.find(
      (m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('afc-redis-config-'),
    );
    expect(config?.data?.['redis.conf']).toContain('maxmemory-policy volatile-lru');
    const statefulset = manifests.find((m) => m.kind === 'StatefulSet' && m.metadata.name === 'afc-redis');
    // The generated ConfigMap's hashed name reaches the StatefulSet's volume.
    expect(JSON.stringify(statefulset)).toContain(config!.metadata.name);
  });
});

// The Kubernetes manifests as kubectl renders them: the example overlay with optional
// components (deploy/k8s/optional/*), for tests that check what a deployment would apply.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

const K8S = new URL('../../deploy/k8s/', import.meta.url).pathname;

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML, checked field by field by each test
export type Manifest = Record<string, any>;

export function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The example overlay rendered with the given optional components. */
export function renderedExample(components: readonly string[]): Manifest[] {
  const dir = mkdtempSync(join(tmpdir(), 'afc-kustomize-'));
  try {
    const path = (to: string) => relative(dir, join(K8S, to));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      JSON.stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [path('overlays/example')],
        components: components.map((name) => path(`optional/${name}`)),
      }),
    );
    const output = execFileSync('kubectl', ['kustomize', '--load-restrictor=LoadRestrictionsNone', dir], {
      encoding: 'utf8',
    });
    return parseAllDocuments(output).map((doc) => doc.toJS() as Manifest);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

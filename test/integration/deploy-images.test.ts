// The Dockerfiles build small, safe images: node:24-slim in every stage, production
// dependencies only, a non-root user, a HEALTHCHECK, and Node itself as PID 1 (exec-form CMD)
// so SIGTERM reaches the graceful shutdown. Also: the production dependency set is enough to
// run every process (no devDependency is imported at run time).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };

const ROOT = new URL('../..', import.meta.url).pathname;

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: Instruction[];
}

/** Instructions by stage, continuation lines joined, comments dropped. */
function parseDockerfile(file: string): Stage[] {
  const logical = readFileSync(join(ROOT, file), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const [from = '', as, name] = rest;
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

function last(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword).at(-1);
}

const IMAGES = [
  { file: 'Dockerfile.gateway', process: 'gateway', port: '8080' },
  { file: 'Dockerfile.worker', process: 'worker', port: '8081' },
  { file: 'Dockerfile.api', process: 'api', port: '8082' },
] as const;

describe.each(IMAGES)('$file', ({ file, process, port }) => {
  const stages = parseDockerfile(file);
  const runtime = stages.at(-1)!;

  it('builds in several stages, all on node:24-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(['node:24-slim', ...stages.map((s) => s.name)]).toContain(stage.from);
    expect(stages[0]!.from).toBe('node:24-slim');
  });

  it('installs production dependencies only, exactly as locked', () => {
    const installs = stages
      .flatMap((stage) => stage.instructions)
      .filter((i) => i.keyword === 'RUN' && i.args.includes('npm'));
    expect(installs.map((i) => i.args).join(' ')).toMatch(/npm ci --omit=dev/);
    expect(installs.some((i) => /npm (install|i) /.test(i.args))).toBe(false);
  });

  it('copies only what the process needs, and every copied path exists', () => {
    const copies = stages
      .flatMap((stage) => stage.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'));
    const sources = copies.flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
    const runtime_sources = stages
      .filter((stage) => stage === runtime || stages.some((s) => s.name === runtime.from && s === stage))
      .flatMap((stage) => stage.instructions)
      .filter((i) => i.keyword === 'COPY')
      .map((i) => i.args);
    expect(runtime_sources.join('\n')).toContain(`${process} ./${process}`);
    expect(runtime_sources.join('\n')).not.toMatch(/\b(test|bench)\b/);
  });

  it('runs as a non-root user', () => {
    const user = last(runtime, 'USER')?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
  });

  it('has a HEALTHCHECK that needs only node (fetch), on the process port', () => {
    const healthcheck = last(runtime, 'HEALTHCHECK')?.args ?? '';
    expect(healthcheck).toMatch(/CMD \["node", "-e", ".*fetch\(/);
    expect(healthcheck).toContain(port);
    expect(healthcheck).not.toMatch(/curl|wget/);
  });

  it('starts Node directly in exec form, so SIGTERM reaches it (no shell, no npm as PID 1)', () => {
    const cmd = last(runtime, 'CMD')?.args ?? '';
    expect(JSON.parse(cmd)).toEqual(['node', `${process}/main.ts`]);
    expect(last(runtime, 'ENTRYPOINT')).toBeUndefined();
  });
});

describe('.dockerignore', () => {
  it('keeps local dependencies, git history, tests and run state out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim());
    for (const entry of ['node_modules', '.git', '.run', 'test', 'bench', '.env'])
      expect(ignored).toContain(entry);
  });
});

function sourceFiles(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir)).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('production dependencies', () => {
  it('cover every package the shipped processes import at run time (type-only imports are erased)', () => {
    const runtime_dependencies = new Set(Object.keys(pkg.dependencies));
    const missing = new Set<string>();
    const dirs = ['shared', 'gateway', 'worker', 'api', 'migrations'];
    for (const file of dirs.flatMap(sourceFiles)) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const match of text.matchAll(/^import\s+(?!type\s)[^'"]*?from\s+'([^'.][^']*)'/gm)) {
        const specifier = match[1]!;
        if (specifier.startsWith('node:')) continue;
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : specifier.split('/')[0]!;
        if (!runtime_dependencies.has(name)) missing.add(`${name} (${file})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});

// Summarizes the V8 CPU profile(s) written by `node --cpu-prof`: the frames with the most
// self time, and self time by module (a package in node_modules, node internals, our files),
// so a missed target can be explained by where the gateway's CPU actually went.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface FrameShare {
  readonly frame: string;
  readonly self_percent: number;
}

export interface CpuProfileSummary {
  readonly files: number;
  readonly sampled_ms: number;
  readonly top_frames: FrameShare[];
  readonly by_module: FrameShare[];
}

const TOP_FRAMES = 20;
const TOP_MODULES = 12;

function moduleOf(url: string, function_name: string): string {
  if (url === '') return function_name.startsWith('(') ? function_name : '(native/V8)';
  const package_match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (package_match) return package_match[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/(gateway|shared|worker)\/(.+)$/.exec(url);
  return own ? `${own[1]}/${own[2]}` : url;
}

function ranked(totals: Map<string, number>, all: number, limit: number): FrameShare[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([frame, hits]) => ({ frame, self_percent: (hits / all) * 100 }));
}

/** Null when the directory holds no profile (e.g. the process was killed before writing it). */
export async function summarizeCpuProfiles(directory: string): Promise<CpuProfileSummary | null> {
  let files: string[];
  try {
    files = readdirSync(directory).filter((name) => name.endsWith('.cpuprofile'));
  } catch {
    return null;
  }
  if (files.length === 0) return null;
  const frames = new Map<string, number>();
  const modules = new Map<string, number>();
  let all = 0;
  let sampled_ms = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(directory, file), 'utf8')) as CpuProfile;
    sampled_ms += (profile.endTime - profile.startTime) / 1000;
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const module = moduleOf(url, functionName);
      const frame = `${functionName || '(anonymous)'} ${url ? `${module}:${lineNumber + 1}` : ''}`.trim();
      frames.set(frame, (frames.get(frame) ?? 0) + hits);
      modules.set(module, (modules.get(module) ?? 0) + hits);
      all += hits;
    }
  }
  if (all === 0) return null;
  return {
    files: files.length,
    sampled_ms,
    top_frames: ranked(frames, all, TOP_FRAMES),
    by_module: ranked(modules, all, TOP_MODULES),
  };
}

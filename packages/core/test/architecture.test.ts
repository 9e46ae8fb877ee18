import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layering that docs/guides/architecture.md describes, checked on core's own imports.
const src = fileURLToPath(new URL('../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every file of core's src, with the files it imports (relative imports, types included). */
const graph = new Map<string, string[]>(
  sourceFiles(src).map((file) => {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)\.js'/g)].map((m) =>
      relative(src, resolve(dirname(file), `${m[1]}.ts`)),
    );
    return [relative(src, file), targets];
  }),
);

function importsOf(prefix: string): [string, string][] {
  return [...graph].flatMap(([file, targets]) =>
    file.startsWith(prefix) ? targets.map((t): [string, string] => [file, t]) : [],
  );
}

describe('core architecture', () => {
  it('resolves every relative import to a file', () => {
    const missing = [...graph].flatMap(([file, targets]) =>
      targets.filter((t) => !graph.has(t)).map((t) => `${file} -> ${t}`),
    );
    expect(missing).toEqual([]);
  });

  it('has no import circles', () => {
    const state = new Map<string, 'open' | 'done'>();
    const circles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        circles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(circles).toEqual([]);
  });

  it('keeps strategies below sessions and launching', () => {
    const up = importsOf('strategies/').filter(
      ([, target]) =>
        target === 'authenticate.ts' ||
        target === 'web-sign-in.ts' ||
        target === 'save-login.ts' ||
        target === 'session.ts' ||
        target === 'events.ts' ||
        target.startsWith('launch/'),
    );
    expect(up).toEqual([]);
  });

  it('lets mcp build on oauth, and keeps the strategies otherwise apart', () => {
    const crossing = (from: string, to: string[]) =>
      importsOf(`strategies/${from}/`).filter(([, t]) =>
        to.some((k) => t.startsWith(`strategies/${k}/`)),
      );
    expect(crossing('oauth', ['mcp', 'browser'])).toEqual([]);
    expect(crossing('browser', ['oauth', 'mcp'])).toEqual([]);
    expect(crossing('mcp', ['browser'])).toEqual([]);
  });

  it('keeps stores and utilities at the ground floor', () => {
    const allowed = (t: string) =>
      t.startsWith('store/') || t.startsWith('util/') || t === 'errors.ts' || t === 'secret.ts';
    expect(importsOf('store/').filter(([, t]) => !allowed(t))).toEqual([]);
    expect(importsOf('util/').filter(([, t]) => !allowed(t))).toEqual([]);
  });

  it('imports each MCP SDK line in its own two files only', () => {
    const sdkImports = sourceFiles(src).flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return [...text.matchAll(/(?:from|import\()\s*'(@modelcontextprotocol\/[^/']+)/g)].map(
        (m) => `${relative(src, file)} -> ${m[1]}`,
      );
    });
    const files = (pkg: string) =>
      [...new Set(sdkImports.filter((i) => i.endsWith(pkg)).map((i) => i.split(' ')[0]))].sort();
    expect(files('@modelcontextprotocol/sdk')).toEqual(['launch/mcp-sdk-v1.ts', 'sdk-v1.ts']);
    expect(files('@modelcontextprotocol/client')).toEqual(['launch/mcp-sdk-v2.ts', 'sdk-v2.ts']);
    expect(
      sdkImports.filter(
        (i) =>
          !i.endsWith('@modelcontextprotocol/sdk') && !i.endsWith('@modelcontextprotocol/client'),
      ),
    ).toEqual([]);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileStore } from '@latchkey/core';
import { describe, expect, it, vi } from 'vitest';
import { quickstart } from '../../../examples/quickstart/src/story.js';
import {
  checkSnippets,
  documents,
  importsOf,
  linesWithoutImports,
  root,
  type Snippet,
  type SnippetReport,
  snippetsOf,
} from './docs-snippets.js';

const snippets: Snippet[] = documents.flatMap(snippetsOf);
let reports: SnippetReport[] | undefined;
/** One program for every snippet, compiled on first use. */
const compiled = () => {
  reports ??= checkSnippets(snippets);
  return reports;
};

const where = (snippet: Snippet) => `${snippet.document}:${snippet.line}`;

describe('every snippet in the docs shows its imports and type-checks', () => {
  it('finds the snippets of the guides and READMEs', () => {
    expect(snippets.length).toBeGreaterThan(20);
  });

  it.each(documents)(
    '%s',
    (document) => {
      const problems = compiled()
        .filter((report) => report.snippet.document === document && report.problems.length > 0)
        .map((report) => `${where(report.snippet)}\n  ${report.problems.join('\n  ')}`);
      expect(problems, `snippets that do not stand on their own:\n${problems.join('\n')}`).toEqual(
        [],
      );
    },
    120_000,
  );

  it('keeps fragments rare', () => {
    const fragments = snippets.filter((snippet) => snippet.fragment);
    expect(fragments.length, fragments.map(where).join('\n')).toBeLessThanOrEqual(
      Math.floor(snippets.length / 4),
    );
  });
});

describe('a snippet that names an example quotes it', () => {
  /** Lines without their indentation, so a quote may be dedented. */
  const lines = (code: string) =>
    code
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');

  it.each(snippets.filter((snippet) => snippet.quotes).map((s) => [where(s), s] as const))(
    '%s',
    (_, snippet) => {
      const source = snippet.quotes as string;
      const example = readFileSync(join(root, source), 'utf8');
      // The snippet's lines appear in the example in the same order (lines between
      // them may be left out), and it imports only what the example imports.
      const exampleLines = lines(example);
      let at = 0;
      for (const line of lines(linesWithoutImports(snippet.code).slice(1).join('\n'))) {
        const found = exampleLines.indexOf(line, at);
        expect(found, `${where(snippet)} quotes a line that is not in ${source}: ${line}`).not.toBe(
          -1,
        );
        at = found + 1;
      }
      const exampleImports = importsOf(example);
      for (const name of importsOf(snippet.code)) {
        expect(exampleImports, `${where(snippet)} imports ${name}, ${source} does not`).toContain(
          name,
        );
      }
    },
  );
});

/** The workspace packages that are published (their package.json is not private). */
const published = readdirSync(join(root, 'packages'))
  .map((folder) => ({
    folder,
    manifest: JSON.parse(readFileSync(join(root, 'packages', folder, 'package.json'), 'utf8')) as {
      name: string;
      private?: boolean;
      engines?: { node?: string };
    },
  }))
  .filter(({ manifest }) => manifest.private !== true);

describe('the docs use only public packages', () => {
  const publicNames = new Set(published.map(({ manifest }) => manifest.name));

  it.each(snippets.map((snippet) => [where(snippet), snippet] as const))('%s', (_, snippet) => {
    for (const name of importsOf(snippet.code)) {
      const specifier = name.slice(0, name.indexOf('#'));
      if (!specifier.startsWith('@latchkey/')) continue;
      const packageName = specifier.split('/').slice(0, 2).join('/');
      expect(
        publicNames,
        `${where(snippet)} imports ${specifier}, which is not published`,
      ).toContain(packageName);
    }
  });

  it('the getting-started guide signs in without the test kit', () => {
    const guide = readFileSync(join(root, 'docs/guides/getting-started.md'), 'utf8');
    expect(guide).not.toMatch(/testkit|completeAuthorization/);
    for (const option of ["flow: 'device'", "flow: 'paste'", 'interactive: false', 'openUrl']) {
      expect(guide).toContain(option);
    }
    expect(guide).toMatch(/clientCredentials/);
    expect(guide).toMatch(/jwtBearer/);
  });
});

describe('the docs name the store directory fileStore() uses', () => {
  /** The directory of `fileStore().path` on `platform`, written as the docs write it. */
  function documentedDirectory(platform: NodeJS.Platform, env: Record<string, string>): string {
    const descriptor = Object.getOwnPropertyDescriptor(process, 'platform') as PropertyDescriptor;
    Object.defineProperty(process, 'platform', { ...descriptor, value: platform });
    vi.stubEnv('HOME', '/HOME');
    vi.stubEnv('USERPROFILE', '/HOME');
    vi.stubEnv('XDG_CONFIG_HOME', '');
    vi.stubEnv('APPDATA', '');
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    try {
      const directory = dirname(fileStore().path);
      const shown = directory
        .replace(/^\/HOME/, '~')
        .replace(/^\/APPDATA/, '%APPDATA%')
        .replace(/^\/XDG/, '$XDG_CONFIG_HOME');
      return platform === 'win32' ? shown.replaceAll('/', '\\') : shown;
    } finally {
      Object.defineProperty(process, 'platform', descriptor);
      vi.unstubAllEnvs();
    }
  }

  const directories = {
    linux: documentedDirectory('linux', {}),
    'linux with XDG_CONFIG_HOME': documentedDirectory('linux', { XDG_CONFIG_HOME: '/XDG' }),
    macOS: documentedDirectory('darwin', {}),
    Windows: documentedDirectory('win32', { APPDATA: '/APPDATA' }),
  };

  it('reads the directories from fileStore()', () => {
    expect(directories.Windows).toMatch(/^%APPDATA%\\latchkey/);
    expect(directories.macOS).toMatch(/^~\/Library\//);
  });

  it.each(['docs/guides/getting-started.md', 'docs/guides/security.md'])(
    '%s names each of them',
    (document) => {
      const text = readFileSync(join(root, document), 'utf8');
      for (const [platform, directory] of Object.entries(directories)) {
        expect(text, `${document} does not name the ${platform} directory`).toContain(
          `\`${directory}\``,
        );
      }
    },
  );

  it.each(documents)('%s names no other', (document) => {
    const text = readFileSync(join(root, document), 'utf8');
    const mentioned = [
      ...text.matchAll(
        /`((?:%APPDATA%|~\/Library\/Preferences|~\/\.config|\$XDG_CONFIG_HOME)[^`]*)`/g,
      ),
    ];
    for (const [, path] of mentioned) {
      const matches = Object.values(directories).some(
        (directory) =>
          path === directory || path?.startsWith(`${directory}${path.includes('\\') ? '\\' : '/'}`),
      );
      expect(matches, `${document} names ${path}, which is not where fileStore() writes`).toBe(
        true,
      );
    }
  });
});

describe('published package READMEs link by absolute address', () => {
  it.each(published.map(({ folder }) => `packages/${folder}/README.md`))('%s', (document) => {
    const text = readFileSync(join(root, document), 'utf8');
    const targets = [
      ...[...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)/g)].map((m) => m[1] as string),
      ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1] as string),
      ...[...text.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/g)].map((m) => m[1] as string),
    ];
    const relative = targets.filter((target) => !/^(?:[a-z][a-z0-9+.-]*:|#)/i.test(target));
    expect(relative, `${document} is read on npm, where relative links break`).toEqual([]);
  });
});

describe('the docs state the supported Node.js versions', () => {
  const engines = new Set(published.map(({ manifest }) => manifest.engines?.node));

  it('every published package declares the same engines range', () => {
    expect([...engines]).toEqual(['>=20.19']);
  });

  const version = (/^>=(\d+\.\d+)$/.exec([...engines][0] ?? '')?.[1] ?? '') as string;
  it.each([
    'README.md',
    'docs/guides/getting-started.md',
    ...published.map(({ folder }) => `packages/${folder}/README.md`),
  ])('%s', (document) => {
    expect(readFileSync(join(root, document), 'utf8')).toContain(`Node.js ${version} or newer`);
  });

  it("README.md says the test kit's oidc-provider warns on Node.js 20", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('oidc-provider WARNING: Unsupported runtime');
  });

  it('npm run demo hides no warning', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const demo = manifest.scripts.demo ?? '';
    expect(demo).toContain('examples/quickstart/src/index.ts');
    expect(demo).not.toMatch(/NODE_NO_WARNINGS|--no-warnings|2>|\/dev\/null|\|/);
    const story = readdirSync(join(root, 'examples/quickstart/src'))
      .map((file) => readFileSync(join(root, 'examples/quickstart/src', file), 'utf8'))
      .join('\n');
    expect(story).not.toMatch(
      /NODE_NO_WARNINGS|emitWarning|console\.warn\s*=|removeAllListeners\('warning'\)/,
    );
  });
});

describe('npm run demo', () => {
  it('prints times as ISO dates and compares each token with the one just before it', async () => {
    const lines: string[] = [];
    await quickstart({ unattended: true, log: (line) => lines.push(line) });
    const output = lines.join('\n');

    expect(output).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
    expect(output, 'a time printed as epoch milliseconds').not.toMatch(/\b\d{13}\b/);

    // Two refreshes: the one that reaches the server, and the forced one. Each compares
    // with the token just before it, not with the first one.
    const accessTokens = [
      ...output.matchAll(
        /access token: new ([0-9a-f]{12}) \(differs from the previous one, ([0-9a-f]{12})\)/g,
      ),
    ];
    expect(accessTokens.length).toBeGreaterThanOrEqual(2);
    const first = /access token fingerprint: ([0-9a-f]{12})/.exec(output)?.[1];
    expect(accessTokens[0]?.[2]).toBe(first);
    for (let i = 1; i < accessTokens.length; i++) {
      expect(accessTokens[i]?.[2]).toBe(accessTokens[i - 1]?.[1]);
    }
    expect(output).toMatch(/refresh token: (new [0-9a-f]{12} \(differs|[0-9a-f]{12}, the same)/);
    expect(output).toContain('Demo finished.');
  }, 90_000);
});

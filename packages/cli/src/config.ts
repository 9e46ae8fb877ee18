import { readFile } from 'node:fs/promises';
import { register } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AuthProvider, fileStore, LatchkeyError, type McpServerSpec } from '@latchkey/core';

/** The settings a config file gives: the built-in providers' options, and the user's own providers and recipes. */
export interface CliConfig {
  /** Where it was read from, if a file exists. */
  readonly file?: string;
  /** Where a config file would be read from first: where to create one. */
  readonly defaultFile: string;
  /** Options by built-in provider id (`google`, `slack`, `slack-browser`). */
  readonly providers: Readonly<Record<string, Record<string, unknown>>>;
  /** Options by built-in recipe id (`command`, `args`, and the recipe's own). */
  readonly recipes: Readonly<Record<string, Record<string, unknown>>>;
  /** Providers an ES module config exports (`export const providers = [...]`). */
  readonly ownProviders: readonly AuthProvider[];
  /** Recipes an ES module config exports (`export const recipes = [...]`). */
  readonly ownRecipes: readonly McpServerSpec[];
}

const KEYS = ['providers', 'recipes', '$schema'];

/**
 * The folder of the CLI's config file and store: `LATCHKEY_HOME`, else the platform's
 * config folder, the one `fileStore()` uses (`~/.config/latchkey` on Linux,
 * `~/Library/Preferences/latchkey` on macOS, `%APPDATA%\latchkey\Config` on Windows).
 */
export function latchkeyHome(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const home = env.LATCHKEY_HOME;
  if (home !== undefined && home !== '') return resolve(home);
  return undefined;
}

/** Where the config file is looked for, in order. */
export function configCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const named = env.LATCHKEY_CONFIG;
  if (named !== undefined && named !== '') return [resolve(named)];
  // The platform's config folder is the one that holds the default store's folder.
  const dir = latchkeyHome(env) ?? dirname(fileStore().path);
  return ['config.json', 'config.mjs', 'config.js'].map((name) => join(dir, name));
}

const invalid = (file: string, problem: string) =>
  new LatchkeyError('CONFIG_INVALID', `The config file ${file} ${problem}`);

/** Reads the config file, if there is one. A file named by `LATCHKEY_CONFIG` must exist. */
export async function loadConfig(env: NodeJS.ProcessEnv = process.env): Promise<CliConfig> {
  const named = env.LATCHKEY_CONFIG !== undefined && env.LATCHKEY_CONFIG !== '';
  for (const file of configCandidates(env)) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ENOENT' && !named) continue;
      throw invalid(
        file,
        code === 'ENOENT'
          ? 'does not exist. LATCHKEY_CONFIG names it: create it, or unset LATCHKEY_CONFIG.'
          : `cannot be read (${code ?? String(error)}).`,
      );
    }
    const ext = extname(file);
    if (ext === '.mjs' || ext === '.js') return loadModule(file);
    return parseJsonConfig(file, text);
  }
  return {
    defaultFile: configCandidates(env)[0] as string,
    providers: {},
    recipes: {},
    ownProviders: [],
    ownRecipes: [],
  };
}

/** Where in `text` the character at `offset` is, as "line L, column C". */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

function jsonErrorOffset(text: string, error: unknown): number | undefined {
  const message = error instanceof Error ? error.message : '';
  const at = /position (\d+)/.exec(message);
  if (at) return Number(at[1]);
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) {
    const lines = text.split('\n').slice(0, Number(lc[1]) - 1);
    return lines.reduce((n, l) => n + l.length + 1, 0) + Number(lc[2]) - 1;
  }
  if (/Unexpected end of JSON input/.test(message)) return text.length;
  return undefined;
}

/** Parses a JSON config; errors name the line and what is wrong. */
export function parseJsonConfig(file: string, text: string): CliConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const offset = jsonErrorOffset(text, error);
    const reason = (error instanceof Error ? error.message : String(error))
      .replace(/ in JSON at position \d+.*$/, '')
      .replace(/^JSON\.parse: /, '');
    throw invalid(
      file,
      `is not valid JSON${offset !== undefined ? ` at ${position(text, offset)}` : ''}: ${reason}. Fix it, or point LATCHKEY_CONFIG at another file.`,
    );
  }
  return checkShape(file, value, [], []);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkShape(
  file: string,
  value: unknown,
  ownProviders: AuthProvider[],
  ownRecipes: McpServerSpec[],
): CliConfig {
  if (!isObject(value))
    throw invalid(file, 'must hold an object: { "providers": { ... }, "recipes": { ... } }.');
  for (const key of Object.keys(value)) {
    if (!KEYS.includes(key)) {
      throw invalid(
        file,
        `has an unknown key "${key}". The keys it may have: "providers" (options by provider id) and "recipes" (options by recipe id).`,
      );
    }
  }
  const section = (name: 'providers' | 'recipes') => {
    const v = value[name] ?? {};
    if (!isObject(v)) throw invalid(file, `has "${name}" that is not an object of options by id.`);
    for (const [id, options] of Object.entries(v)) {
      if (!isObject(options))
        throw invalid(file, `has "${name}.${id}" that is not an object of options.`);
    }
    return v as Record<string, Record<string, unknown>>;
  };
  return {
    file,
    defaultFile: file,
    providers: section('providers'),
    recipes: section('recipes'),
    ownProviders,
    ownRecipes,
  };
}

/** The packages a config module may import, resolved to the copies the CLI runs. */
const SHARED_PACKAGES = [
  '@latchkey/core',
  '@latchkey/core/oauth',
  '@latchkey/core/sdk-v1',
  '@latchkey/browser-extract',
  '@latchkey/provider-google',
  '@latchkey/provider-slack',
];

let hooksRegistered = false;

/** Makes a config module's imports of the Latchkey packages load the CLI's own copies. */
function shareLatchkeyPackages(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  const packages: Record<string, string> = {};
  for (const name of SHARED_PACKAGES) {
    try {
      packages[name] = import.meta.resolve(name);
    } catch {
      // Not installed with the CLI: the module resolves it itself, if it can.
    }
  }
  // From the sources (tests run them through tsx) the hooks file is TypeScript.
  const hooks = new URL(
    import.meta.url.endsWith('.ts') ? './config-hooks.ts' : './config-hooks.js',
    import.meta.url,
  );
  register(hooks, { data: { packages } });
}

async function loadModule(file: string): Promise<CliConfig> {
  let module: Record<string, unknown>;
  shareLatchkeyPackages();
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    const where =
      error instanceof Error && error.stack
        ? /:(\d+)(?::\d+)?\)?\s*$/m.exec(
            error.stack.split('\n').find((l) => l.includes(file)) ?? '',
          )
        : null;
    throw new LatchkeyError(
      'CONFIG_INVALID',
      `The config module ${file} failed to load${where ? ` (line ${where[1]})` : ''}: ${(error instanceof Error ? error.message : String(error)).replace(/\.$/, '')}. Fix it, or point LATCHKEY_CONFIG at another file.`,
      { cause: error },
    );
  }
  const list = <T>(name: string, check: (v: unknown) => v is T, what: string): T[] => {
    const v = module[name];
    if (v === undefined) return [];
    if (!Array.isArray(v))
      throw invalid(file, `exports "${name}" that is not an array of ${what}.`);
    v.forEach((item, i) => {
      if (!check(item)) throw invalid(file, `exports "${name}" whose item ${i} is not ${what}.`);
    });
    return v as T[];
  };
  const providers = list('providers', isProvider, 'providers made with defineProvider()');
  const recipes = list('recipes', isRecipe, 'recipes made with defineServer()');
  const options = module.default === undefined ? {} : module.default;
  return checkShape(file, options, providers, recipes);
}

function isProvider(value: unknown): value is AuthProvider {
  return isObject(value) && typeof value.id === 'string' && isObject(value.strategy);
}

function isRecipe(value: unknown): value is McpServerSpec {
  return isObject(value) && typeof value.id === 'string' && isObject(value.transport);
}

// The code blocks of the docs, compiled together: every snippet must show its imports
// and type-check as it stands (strict, as a module), so a reader can paste it.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The Markdown files whose code blocks readers paste: the guides and every README. */
export const documents: readonly string[] = [
  'README.md',
  ...readdirSync(join(root, 'docs/guides'))
    .filter((file) => file.endsWith('.md'))
    .sort()
    .map((file) => `docs/guides/${file}`),
  ...readdirSync(join(root, 'packages'))
    .filter((folder) => ts.sys.fileExists(join(root, 'packages', folder, 'README.md')))
    .sort()
    .map((folder) => `packages/${folder}/README.md`),
];

/** The marker, on the line before a block, of a snippet that shows only part of a program. */
export const FRAGMENT_MARKER = '<!-- fragment -->';

/** One TypeScript or JavaScript code block of a Markdown file. */
export interface Snippet {
  /** The Markdown file, relative to the repository. */
  readonly document: string;
  /** The line of the opening fence, 1-based. */
  readonly line: number;
  readonly language: 'ts' | 'js';
  readonly code: string;
  /** Marked with {@link FRAGMENT_MARKER}: checked for imports, not compiled. */
  readonly fragment: boolean;
  /** The example the block says it quotes (its first line, `// examples/….ts`). */
  readonly quotes?: string;
}

const FENCE = /^```(ts|typescript|mts|tsx|js|javascript|mjs|jsx)[^\S\n]*\n([\s\S]*?)^```/gm;

/** The ts and js code blocks of a Markdown file. */
export function snippetsOf(document: string): Snippet[] {
  const markdown = readFileSync(join(root, document), 'utf8');
  return [...markdown.matchAll(FENCE)].map((match) => {
    const before = markdown.slice(0, match.index).trimEnd();
    const previousLine = before.slice(before.lastIndexOf('\n') + 1).trim();
    const code = match[2] as string;
    const quotes = /^\/\/ (examples\/\S+\.ts)\n/.exec(code)?.[1];
    return {
      document,
      line: markdown.slice(0, match.index).split('\n').length,
      language: /^(js|javascript|mjs|jsx)$/.test(match[1] as string) ? 'js' : 'ts',
      code,
      fragment: previousLine === FRAGMENT_MARKER,
      ...(quotes ? { quotes } : {}),
    };
  });
}

/** Where a snippet is compiled: beside the example it quotes, else in a folder of its own. */
function virtualPath(snippet: Snippet, index: number): string {
  const folder = snippet.quotes
    ? dirname(join(root, snippet.quotes))
    : join(root, 'docs', 'snippets');
  const name = snippet.document.replaceAll(/[^a-z0-9]+/gi, '-');
  return join(
    folder,
    `__docs-${name}-${snippet.line}-${index}.${snippet.language === 'js' ? 'mjs' : 'mts'}`,
  );
}

/** The public entry points of the published packages, by import specifier. */
const ENTRIES: Record<string, string> = {
  '@latchkey/core': 'packages/core/src/index.ts',
  '@latchkey/core/oauth': 'packages/core/src/oauth.ts',
  '@latchkey/core/testing': 'packages/core/src/testing.ts',
  '@latchkey/core/store': 'packages/core/src/store-authors.ts',
  '@latchkey/core/sdk-v1': 'packages/core/src/sdk-v1.ts',
  '@latchkey/core/sdk-v2': 'packages/core/src/sdk-v2.ts',
  '@latchkey/browser-extract': 'packages/browser-extract/src/index.ts',
  '@latchkey/provider-google': 'packages/provider-google/src/index.ts',
  '@latchkey/provider-slack': 'packages/provider-slack/src/index.ts',
  '@latchkey/store-postgres': 'packages/store-postgres/src/index.ts',
};

/** What compiling the snippets found, per snippet. */
export interface SnippetReport {
  readonly snippet: Snippet;
  /** Compiler errors, or for a fragment the Latchkey names it uses without importing. */
  readonly problems: readonly string[];
}

function compilerOptions(): ts.CompilerOptions {
  const file = join(root, 'tsconfig.json');
  const { config } = ts.readConfigFile(file, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, file);
  return {
    ...parsed.options,
    strict: true,
    noEmit: true,
    allowJs: true,
    checkJs: true,
    declaration: false,
    sourceMap: false,
    moduleDetection: ts.ModuleDetectionKind.Force,
  };
}

/** Names a snippet declares or imports itself. */
function declaredNames(source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (
      (ts.isVariableDeclaration(node) ||
        ts.isFunctionDeclaration(node) ||
        ts.isClassDeclaration(node) ||
        ts.isInterfaceDeclaration(node) ||
        ts.isTypeAliasDeclaration(node) ||
        ts.isParameter(node) ||
        ts.isBindingElement(node) ||
        ts.isImportSpecifier(node) ||
        ts.isImportClause(node) ||
        ts.isNamespaceImport(node)) &&
      node.name &&
      ts.isIdentifier(node.name)
    ) {
      names.add(node.name.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/** Identifiers a snippet reads as values or types (not property names). */
function referencedNames(source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) {
      const parent = node.parent;
      const isPropertyName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isQualifiedName(parent) && parent.right === node) ||
        ((ts.isPropertyAssignment(parent) ||
          ts.isMethodDeclaration(parent) ||
          ts.isPropertySignature(parent) ||
          ts.isPropertyDeclaration(parent)) &&
          parent.name === node) ||
        (ts.isLabeledStatement(parent) && parent.label === node) ||
        (ts.isBindingElement(parent) && parent.propertyName === node);
      if (!isPropertyName) names.add(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/** The module specifiers and names a file imports, as `specifier#name`. */
export function importsOf(code: string, fileName = 'file.mts'): Set<string> {
  const source = ts.createSourceFile(fileName, code, ts.ScriptTarget.ES2022, true);
  const imports = new Set<string>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) {
      continue;
    }
    const from = statement.moduleSpecifier.text;
    const clause = statement.importClause;
    if (!clause) imports.add(`${from}#`);
    if (clause?.name) imports.add(`${from}#default`);
    const bindings = clause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) imports.add(`${from}#*`);
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) {
        imports.add(`${from}#${(element.propertyName ?? element.name).text}`);
      }
    }
  }
  return imports;
}

/** The code of a snippet without its import declarations, one line per entry. */
export function linesWithoutImports(code: string): string[] {
  const source = ts.createSourceFile('snippet.mts', code, ts.ScriptTarget.ES2022, true);
  const skipped = new Set<number>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const first = source.getLineAndCharacterOfPosition(statement.getStart(source)).line;
    const last = source.getLineAndCharacterOfPosition(statement.getEnd()).line;
    for (let line = first; line <= last; line++) skipped.add(line);
  }
  return code.split('\n').filter((_, line) => !skipped.has(line));
}

/**
 * Compiles every complete snippet in one program (strict, as modules, against the
 * workspace packages' source) and checks each fragment for Latchkey names it does not
 * import.
 */
export function checkSnippets(snippets: readonly Snippet[]): SnippetReport[] {
  const options = compilerOptions();
  const files = new Map<string, string>();
  const pathOf = new Map<Snippet, string>();
  snippets.forEach((snippet, index) => {
    if (snippet.fragment) return;
    const path = virtualPath(snippet, index);
    files.set(path, snippet.code);
    pathOf.set(snippet, path);
  });
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, language, onError, shouldCreate) => {
    const text = files.get(fileName);
    return text === undefined
      ? getSourceFile(fileName, language, onError, shouldCreate)
      : ts.createSourceFile(fileName, text, language, true);
  };
  host.fileExists = (fileName) => files.has(fileName) || ts.sys.fileExists(fileName);
  host.readFile = (fileName) => files.get(fileName) ?? ts.sys.readFile(fileName);
  const entries = Object.values(ENTRIES).map((entry) => join(root, entry));
  const program = ts.createProgram({
    rootNames: [...files.keys(), ...entries],
    options,
    host,
  });

  // Every name the published packages export, and where from.
  const checker = program.getTypeChecker();
  const exported = new Map<string, string>();
  for (const [specifier, entry] of Object.entries(ENTRIES)) {
    const source = program.getSourceFile(join(root, entry));
    const symbol = source && checker.getSymbolAtLocation(source);
    if (!symbol) throw new Error(`cannot read the exports of ${specifier}`);
    for (const name of checker.getExportsOfModule(symbol)) {
      if (!exported.has(name.name)) exported.set(name.name, specifier);
    }
  }

  return snippets.map((snippet) => {
    const path = pathOf.get(snippet);
    if (path === undefined) {
      const source = ts.createSourceFile(
        'fragment.mts',
        snippet.code,
        ts.ScriptTarget.ES2022,
        true,
      );
      const declared = declaredNames(source);
      const problems = [...referencedNames(source)]
        .filter((name) => exported.has(name) && !declared.has(name))
        .map((name) => `uses ${name} without importing it from ${exported.get(name)}`);
      return { snippet, problems };
    }
    const source = program.getSourceFile(path);
    if (!source) throw new Error(`${path} was not compiled`);
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    const problems = diagnostics.map((diagnostic) => {
      const { line } = source.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      return `line ${line + 1} of the block: TS${diagnostic.code} ${text}`;
    });
    return { snippet, problems };
  });
}

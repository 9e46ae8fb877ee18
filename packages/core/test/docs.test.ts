import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const documents = [
  'README.md',
  ...readdirSync(`${root}docs/guides`)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/guides/${f}`),
];

/** Lines without their indentation, so a quote may be dedented. */
function dedent(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .join('\n');
}

/** TypeScript blocks of a Markdown file. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

describe('docs quote the type-checked examples', () => {
  it.each(documents)('%s', (document) => {
    const blocks = codeBlocks(readFileSync(`${root}${document}`, 'utf8'));
    for (const block of blocks) {
      const [first, ...rest] = block.split('\n');
      const source = /^\/\/ (examples\/\S+\.ts)$/.exec(first ?? '')?.[1];
      expect(
        source,
        `a ts block in ${document} does not name the example it quotes:\n${block}`,
      ).toBeDefined();
      const example = readFileSync(`${root}${source}`, 'utf8');
      expect(dedent(example), `${document} quotes lines that are not in ${source}`).toContain(
        dedent(rest.join('\n')),
      );
    }
  });
});

/** A form found in an HTML page, with the values its inputs would submit. */
export interface ParsedForm {
  id: string | undefined;
  action: string | undefined;
  method: string;
  fields: URLSearchParams;
}

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};

function decodeEntities(value: string): string {
  return value.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity] ?? entity);
}

function attributes(tag: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const match of tag.matchAll(/([a-zA-Z_:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    const [, name = '', double, single] = match;
    found.set(name.toLowerCase(), decodeEntities(double ?? single ?? ''));
  }
  return found;
}

/**
 * Finds the forms of a simple server-rendered page (the provider's own pages), collecting
 * the `name`/`value` of every `<input>` inside each. Not a general HTML parser.
 */
export function parseForms(html: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const [, openTag = '', inner = ''] = match;
    const attrs = attributes(openTag);
    const fields = new URLSearchParams();
    for (const input of inner.matchAll(/<input\b([^>]*)>/gi)) {
      const inputAttrs = attributes(input[1] ?? '');
      const name = inputAttrs.get('name');
      if (name) {
        fields.append(name, inputAttrs.get('value') ?? '');
      }
    }
    forms.push({
      id: attrs.get('id'),
      action: attrs.get('action'),
      method: (attrs.get('method') ?? 'get').toUpperCase(),
      fields,
    });
  }
  return forms;
}

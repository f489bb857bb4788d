/**
 * A linear pre-check of a Handlebars source before it is parsed. Handlebars' parser and compiler take
 * time that grows much faster than the nesting (4000 nested `{{#if}}` blocks, 40 KB, kept the event loop
 * busy for tens of seconds before a stack overflow), so a template written through the API is refused
 * when its blocks (else-if chains count: each is one more level) or its subexpressions nest deeper than
 * any real boot template needs.
 */
export const MAX_BLOCK_NESTING = 64;
export const MAX_SUBEXPRESSION_NESTING = 32;

/** A message naming the line where the source nests too deep, or undefined. */
export function nestingError(src: string): string | undefined {
  /** Open blocks, each with the number of `{{else x}}` links chained onto it. */
  const chains: number[] = [];
  let level = 0;
  let line = 1;
  let i = 0;
  const lineAt = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (src.charCodeAt(k) === 10) line += 1;
  };
  for (;;) {
    const open = src.indexOf('{{', i);
    if (open < 0) return undefined;
    lineAt(i, open);
    let j = open + 2;
    while (src[j] === '{') j += 1;
    if (src[j] === '~') j += 1;
    const c = src[j];
    if (c === '!') {
      const end = src.startsWith('!--', j) ? src.indexOf('--}}', j) : src.indexOf('}}', j);
      if (end < 0) return undefined;
      lineAt(open, end);
      i = end + 2;
      continue;
    }
    if ((c === '#' || c === '^') && !/^\^\s*~?\}\}/.test(src.slice(j, j + 6))) {
      chains.push(0);
      level += 1;
      if (level > MAX_BLOCK_NESTING) return `line ${line}: blocks nested deeper than ${MAX_BLOCK_NESTING}`;
    } else if (c === '/') {
      const links = chains.pop();
      if (links !== undefined) level -= 1 + links;
    } else if (src.startsWith('else', j) && /^else\s+[^\s~}]/.test(src.slice(j, j + 8)) && chains.length > 0) {
      chains[chains.length - 1]! += 1;
      level += 1;
      if (level > MAX_BLOCK_NESTING) return `line ${line}: blocks (with their else-if links) nested deeper than ${MAX_BLOCK_NESTING}`;
    }
    // Subexpressions: parentheses inside the mustache, outside string literals.
    let depth = 0;
    let quote: string | undefined;
    for (; j < src.length; j++) {
      const ch = src[j];
      if (quote) {
        if (ch === quote) quote = undefined;
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '(') {
        depth += 1;
        if (depth > MAX_SUBEXPRESSION_NESTING) return `line ${line}: subexpressions nested deeper than ${MAX_SUBEXPRESSION_NESTING}`;
      } else if (ch === ')') depth -= 1;
      else if (ch === '}' && src[j + 1] === '}') break;
      else if (ch === '\n') line += 1;
    }
    i = j + 2;
    if (j >= src.length) return undefined;
  }
}

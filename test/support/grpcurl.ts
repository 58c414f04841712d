/**
 * The grpcurl command lines of a Markdown text (README.md), parsed as a shell and as grpcurl would:
 * `grpcurl [-plaintext] [-d JSON] ADDRESS (list [SERVICE] | describe SYMBOL | SERVICE/METHOD)`.
 * Anything else (another flag, a missing address) is an error, so a README line the tests cannot run
 * is reported instead of skipped.
 */

export interface GrpcurlCommand {
  /** 1-based line of the README where the command starts. */
  readonly line: number;
  /** The command as written (continuation lines joined). */
  readonly text: string;
  readonly plaintext: boolean;
  /** The -d request body, as written (placeholders like <id> included). */
  readonly data?: string;
  readonly address: string;
  readonly verb: 'list' | 'describe' | 'call';
  /** The service or symbol of list / describe, or the method `pkg.Service/Method` of a call. */
  readonly target?: string;
}

/** Every command of `markdown` that starts a line with `grpcurl`, continuation lines (`\` at the end) included. */
export function grpcurlCommands(markdown: string): GrpcurlCommand[] {
  const lines = markdown.split('\n');
  const commands: GrpcurlCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^grpcurl\s/.test(lines[i])) continue;
    const start = i;
    let text = lines[i];
    while (/\\$/.test(text) && i + 1 < lines.length) text += `\n${lines[++i]}`;
    commands.push(parseGrpcurl(shellWords(text), start + 1, text));
  }
  return commands;
}

/** Splits a command line into words as a POSIX shell does: quotes, backslashes, line continuations, `#` comments. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      if (text[i + 1] === '\n') i++; // line continuation
      else word = (word ?? '') + (text[++i] ?? '');
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${text}`);
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      word ??= '';
      for (i++; text[i] !== '"'; i++) {
        if (i >= text.length) throw new Error(`unterminated " in: ${text}`);
        if (text[i] === '\\' && '"\\$`\n'.includes(text[i + 1])) i++;
        word += text[i];
      }
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && word === undefined) {
      const end = text.indexOf('\n', i);
      if (end < 0) break;
      i = end - 1;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

function parseGrpcurl(words: string[], line: number, text: string): GrpcurlCommand {
  const fail = (why: string): never => {
    throw new Error(`README line ${line}: ${why}: ${text}`);
  };
  if (words[0] !== 'grpcurl') fail('not a grpcurl command');
  let plaintext = false;
  let data: string | undefined;
  const positional: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    if (w === '-plaintext') plaintext = true;
    else if (w === '-d') data = words[++i] ?? fail('-d without a value');
    else if (w.startsWith('-')) fail(`flag ${w} is not understood by the test`);
    else positional.push(w);
  }
  const [address, verbOrMethod, ...rest] = positional;
  if (!address || !verbOrMethod) fail('no address or no method');
  if (verbOrMethod === 'list' || verbOrMethod === 'describe') {
    if (rest.length > 1) fail('too many arguments');
    if (verbOrMethod === 'describe' && !rest[0]) fail('describe without a symbol');
    return { line, text, plaintext, data, address, verb: verbOrMethod, target: rest[0] };
  }
  if (rest.length) fail('arguments after the method');
  if (!/^[\w.]+\/\w+$/.test(verbOrMethod)) fail(`${verbOrMethod} is not a method`);
  return { line, text, plaintext, data, address, verb: 'call', target: verbOrMethod };
}

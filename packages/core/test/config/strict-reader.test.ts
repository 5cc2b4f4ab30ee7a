// The strict reader (JSON.parse as the referee, config/json-scan.ts for what it cannot say) must refuse exactly
// what a full jsonc-parser syntax tree plus JSON.parse refuse, with the same message at the same line:column,
// and hand the editor the same nodes jsonc's tree has. The reference below is that tree walk, written out from
// jsonc's public API: generated documents (duplicate keys, escaped keys, unicode, BOM, CRLF, odd whitespace,
// deep nesting, and broken variants of all of them) are read by both and compared.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { describe, expect, it } from 'vitest';
import { DOCKERD_MAX_DEPTH, MAX_DEPTH, firstTooDeep, parseDaemonConfig, positionOf, syntaxTreeOf } from '../../src/config/document.js';
import { scanJson } from '../../src/config/json-scan.js';
import { sameJson } from '../../src/engines/docker/daemon-json.js';
import { InvalidConfigError } from '../../src/errors.js';

const file = '/etc/docker/daemon.json';
const KEYS = ['registry-mirrors', 'insecure-registries'] as const;

/** The reference: what the reader said when it walked jsonc's whole tree. `ok` with the mirror lists, or where and why it refuses. */
function reference(text: string): { ok: true; mirrors: unknown; insecure: unknown } | { ok: false; offset: number | undefined; why: string } {
  const refuse = (offset: number | undefined, why: string) => ({ ok: false as const, offset, why });
  if (text.trim() === '') return { ok: true, mirrors: undefined, insecure: undefined };
  const deep = firstTooDeep(text, MAX_DEPTH);
  if (deep !== -1) {
    const beyond = firstTooDeep(text, DOCKERD_MAX_DEPTH);
    return beyond !== -1 ? refuse(beyond, 'nested deeper than 10000') : refuse(deep, 'nested deeper than 1000');
  }
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors[0]) return refuse(errors[0].offset, printParseErrorCode(errors[0].error));
  try {
    JSON.parse(text);
  } catch (error) {
    const at = /position (\d+)/.exec(String(error));
    return refuse(at ? Number(at[1]) : undefined, 'JSON.parse');
  }
  if (!root || root.type !== 'object') return refuse(root?.offset ?? 0, 'top level');
  const pending: Node[] = [root];
  for (let node = pending.pop(); node; node = pending.pop()) {
    if (node.type === 'object') {
      const seen = new Set<string>();
      for (const property of node.children ?? []) {
        const key = property.children?.[0] as Node;
        if (seen.has(String(key.value))) return refuse(key.offset, `duplicate key ${JSON.stringify(key.value)}`);
        seen.add(String(key.value));
      }
    }
    for (const child of [...(node.children ?? [])].reverse()) pending.push(child);
  }
  const lists: unknown[] = [];
  for (const key of KEYS) {
    const value = findNodeAtLocation(root, [key]);
    if (!value) lists.push(undefined);
    else if (value.type === 'null') lists.push([]);
    else if (value.type !== 'array') return refuse(value.offset, `${key} not ${value.type}`);
    else {
      const bad = value.children?.find((item) => item.type !== 'string');
      if (bad) return refuse(bad.offset, `${key} has ${bad.type}`);
      lists.push(value.children?.map((item) => item.value));
    }
  }
  return { ok: true, mirrors: lists[0], insecure: lists[1] };
}

/** The reader's answer in the reference's terms. */
function read(bytes: Buffer): { ok: true; mirrors: unknown; insecure: unknown } | { ok: false; line?: number; column?: number; message: string } {
  try {
    const doc = parseDaemonConfig(file, bytes);
    return { ok: true, mirrors: doc.mirrors, insecure: doc.insecureRegistries };
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    const location = error.location as { line?: number; column?: number };
    return { ok: false, ...(location.line === undefined ? {} : { line: location.line, column: location.column }), message: error.message };
  }
}

/** The nodes the editor reads, as plain data: jsonc's tree and the reader's must give the same. */
function editorView(root: Node): unknown {
  const span = (n: Node | undefined) => n && { type: n.type, offset: n.offset, length: n.length };
  return {
    ...span(root),
    properties: (root.children ?? []).map((p) => ({
      offset: p.offset,
      length: p.length,
      key: p.children?.[0]?.value,
      keyOffset: p.children?.[0]?.offset,
      value: span(p.children?.[1]),
      parent: p.children?.[1]?.parent?.offset,
      items: KEYS.includes(p.children?.[0]?.value) && p.children?.[1]?.type === 'array' ? p.children[1].children?.map(span) : undefined,
    })),
  };
}

function agree(text: string, bom = false): void {
  // A file holds UTF-8: a lone surrogate in the generated text is written as U+FFFD, so the reference reads that.
  const body = text.toWellFormed();
  const expected = reference(body);
  const actual = read(Buffer.from((bom ? '\uFEFF' : '') + body, 'utf8'));
  if (expected.ok) {
    expect(actual).toEqual(expected);
    if (body.trim() !== '') {
      // The editor's nodes: the same offsets, lengths and types as jsonc's tree for everything it touches.
      const doc = parseDaemonConfig(file, Buffer.from(body));
      expect(editorView(syntaxTreeOf(doc) as Node)).toEqual(editorView(parseTree(body) as Node));
    }
    return;
  }
  expect(actual.ok, `accepted what the reference refuses (${expected.why}): ${JSON.stringify(body).slice(0, 300)}`).toBe(false);
  if (actual.ok) return;
  if (expected.offset === undefined) expect(actual.line).toBeUndefined();
  else expect({ line: actual.line, column: actual.column }).toEqual(positionOf(body, expected.offset));
  if (expected.why.startsWith('duplicate key')) expect(actual.message).toContain(expected.why);
}

// Whitespace JSON allows, and some it does not (jsonc-parser is lenient about these, JSON.parse is not).
const space = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('', ' ', '  ', '\n', '\r\n', '\n  ', '\r\n\t', '\t') },
  { weight: 1, arbitrary: fc.constantFrom('\u00a0', '\v', '\f', '\u2028', '\uFEFF') },
);
// Keys from a small set so that duplicates are common, some spelled with escapes ("a" and "\u0061" are one key).
const keyText = fc.oneof(
  fc.constantFrom('"a"', '"\\u0061"', '"b"', '"a\\"b"', '"a\\\\"', '"\\\\"', '"registry-mirrors"', '"insecure-registries"', '"regis\\u0074ry-mirrors"', '"é"', '"\\u00e9"', '"😀"', '"\\ud83d\\ude00"'),
  fc.string({ unit: 'binary', maxLength: 6 }).map((s) => JSON.stringify(s)),
);
const stringText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"\\"]}"', '"\\\\"', '"\\/\\b\\f\\n\\r\\t"', '"\\u005c"', '"\\u0022"', '"{[,:"', '"\\ud800"', '"http://127.0.0.1:5000"'),
);
const scalarText = fc.oneof(stringText, fc.constantFrom('0', '-0', '1', '-12.5e+3', '1E400', '2e-7', 'true', 'false', 'null'));

const { value: valueText } = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalarText, tie('object'), tie('array')),
  object: fc
    .array(fc.tuple(space, keyText, space, space, tie('value'), space), { maxLength: 5 })
    .map((props) => `{${props.map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`).join(',')}}`),
  array: fc.array(fc.tuple(space, tie('value'), space), { maxLength: 5 }).map((items) => `[${items.map(([a, v, b]) => `${a}${v}${b}`).join(',')}]`),
}));

/** A document: mostly an object at the top, as daemon.json is. */
const documentText = fc
  .oneof({ weight: 5, arbitrary: fc.tuple(space, valueText.filter((v) => v.startsWith('{')), space).map(([a, v, b]) => `${a}${v}${b}`) }, { weight: 1, arbitrary: valueText })
  // A leading U+FEFF is the BOM, which the reader strips before anything is parsed: the BOM case is its own flag.
  .filter((text) => !text.startsWith('\uFEFF'));

/** Breaks a document in one of the ways a hand edit does. */
const broken = fc.tuple(documentText, fc.nat(), fc.constantFrom('', ',', ':', '}', ']', '{', '[', '"', '\\', '// c\n', '/* c */', '01', 'tru', '+1', '.5', '"\u0001"', "'a'", 'NaN', '\u0000')).map(([text, at, insert]) => {
  const i = text.length === 0 ? 0 : at % text.length;
  return insert === '' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + insert + text.slice(i);
})
  // Deleting the `{` of `{\uFEFF…` leaves a leading U+FEFF, which the reader rightly takes as a BOM: not a broken document.
  .filter((text) => !text.startsWith('\uFEFF'));

describe('the strict reader agrees with a full jsonc tree plus JSON.parse', () => {
  it('on generated documents: accept or refuse, the mirror lists, the error position, the editor nodes', () => {
    fc.assert(fc.property(documentText, fc.boolean(), (text, bom) => agree(text, bom)), { numRuns: 3000 });
  });

  it('on broken documents', () => {
    fc.assert(fc.property(broken, (text) => agree(text)), { numRuns: 3000 });
  });

  it('on deep nesting around the limit, with duplicates above and below it', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_DEPTH - 3, max: MAX_DEPTH + 3 }), fc.boolean(), fc.boolean(), fc.boolean(), (levels, arrays, dupOutside, dupInside) => {
        // `levels` brackets below the top-level object, the innermost maybe an object with a duplicate key.
        const [open, close] = arrays ? ['[', ']'] : ['{"k":', '}'];
        const inner = dupInside ? '{"x":1,"x":2}' : '1';
        const text = `{"a":1,${dupOutside ? '"a":2,' : ''}"deep":${open.repeat(levels - 1)}${inner}${close.repeat(levels - 1)}}`;
        agree(text);
      }),
      { numRuns: 200 },
    );
  });

  it('names the same first problem as the tree walk: a parent object before its children, then text order', () => {
    for (const text of [
      '{"a": {"x": 1, "x": 2}, "a": 3}',
      '{"a": {"x": 1, "x": 2}, "b": {"y": 1, "y": 2}}',
      '{"a": [{"x": 1, "x": 2}], "b": 1, "b": 2}',
      '{"\\u0061": 1, "a": {"z": 1, "z": 2}}',
      '{"a": 1, "b": {"c": {"d": 1, "d": 2}, "c": 2}}',
    ]) agree(text);
  });
});

describe('scanJson', () => {
  it('skips strings, escaped quotes and brackets inside them included', () => {
    const scan = scanJson('{"a\\"": "]}\\\\", "registry-mirrors": ["x\\"]", "y"]}', MAX_DEPTH, KEYS);
    expect(scan.kind).toBe('ok');
    const root = (scan as { root: Node }).root;
    expect(root.children?.map((p) => p.children?.[0]?.value)).toEqual(['a"', 'registry-mirrors']);
    expect(root.children?.[1]?.children?.[1]?.children?.map((n) => [n.offset, n.length])).toEqual([[37, 6], [45, 3]]);
  });

  it('reports the first bracket deeper than the limit', () => {
    expect(scanJson('{"a": [[1]], "b": [[[2]]]}', 3, KEYS)).toEqual({ kind: 'too-deep', offset: 20 });
  });
});

describe('sameJson (the produced-bytes check compares the meaning outside the mirror keys with it)', () => {
  // Pairs that are often equal: a value and a copy of it, maybe with one leaf changed or its keys reordered.
  // Through JSON.parse, so the values are what it makes (plain prototypes; fast-check's own may have none).
  const jsonValue = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
  const pair = fc.tuple(jsonValue, fc.nat(), fc.constantFrom('same', 'reorder', 'leaf', 'other')).chain(([value, at, how]) => {
    const copy = JSON.parse(JSON.stringify(value)) as unknown;
    if (how === 'other') return jsonValue.map((other) => [value, other] as const);
    const reorder = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reorder) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reorder(x)])) : v;
    if (how === 'reorder') return fc.constant([value, reorder(copy)] as const);
    if (how === 'same') return fc.constant([value, copy] as const);
    // Change the `at`th leaf, or -0 for 0 (isDeepStrictEqual tells them apart, and so must sameJson).
    let n = 0;
    const change = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(change);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, change(x)]));
      return n++ === at % 7 ? (v === 0 ? -0 : typeof v === 'string' ? `${v}!` : null) : v;
    };
    return fc.constant([value, change(copy)] as const);
  });

  it('says what node:util isDeepStrictEqual says for values JSON.parse makes', () => {
    fc.assert(fc.property(pair, ([a, b]) => {
        expect(sameJson(a, b)).toBe(isDeepStrictEqual(a, b));
      }), { numRuns: 2000 });
  });

  it('is not fooled by arrays against objects, or a missing key against an undefined one', () => {
    expect(sameJson([], {})).toBe(false);
    expect(sameJson({ 0: 'a' }, ['a'])).toBe(false);
    expect(sameJson({ a: 1 }, { b: 1 })).toBe(false);
    expect(sameJson([[1, [2]]], [[1, [2]]])).toBe(true);
    expect(sameJson(JSON.parse('{"__proto__": 1}'), {})).toBe(false);
  });
});

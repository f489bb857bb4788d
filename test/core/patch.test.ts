import t from 'tap';
import { FarrierError } from '../../src/errors.js';
import { applyPatch, jsonPatch, mergePatch } from '../../src/core/patch.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as FarrierError).code;
  }
};

t.test('merge patch follows RFC 7386 (appendix A examples)', async (t) => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of cases) t.same(mergePatch(target, patch), expected, `${JSON.stringify(target)} + ${JSON.stringify(patch)}`);
  const original = { a: { b: 1 } };
  mergePatch(original, { a: { b: 2 } });
  t.same(original, { a: { b: 1 } }, 'input not mutated');
});

t.test('JSON patch follows RFC 6902', async (t) => {
  const doc = { foo: 'bar', list: [1, 2, 3], nested: { 'a/b': 1, 'm~n': 2 } };
  t.same(jsonPatch(doc, [{ op: 'add', path: '/baz', value: 'qux' }]), { ...doc, baz: 'qux' });
  t.same((jsonPatch(doc, [{ op: 'add', path: '/list/1', value: 9 }]) as typeof doc).list, [1, 9, 2, 3]);
  t.same((jsonPatch(doc, [{ op: 'add', path: '/list/-', value: 4 }]) as typeof doc).list, [1, 2, 3, 4]);
  t.same((jsonPatch(doc, [{ op: 'remove', path: '/list/0' }]) as typeof doc).list, [2, 3]);
  t.same((jsonPatch(doc, [{ op: 'replace', path: '/nested/a~1b', value: 5 }]) as typeof doc).nested['a/b'], 5, '~1 escapes /');
  t.same((jsonPatch(doc, [{ op: 'replace', path: '/nested/m~0n', value: 6 }]) as typeof doc).nested['m~n'], 6, '~0 escapes ~');
  t.same(jsonPatch(doc, [{ op: 'move', from: '/foo', path: '/moved' }]), { list: [1, 2, 3], nested: doc.nested, moved: 'bar' });
  t.same((jsonPatch(doc, [{ op: 'copy', from: '/list', path: '/copy' }]) as Record<string, unknown>).copy, [1, 2, 3]);
  t.same(jsonPatch(doc, [{ op: 'test', path: '/list', value: [1, 2, 3] }, { op: 'replace', path: '', value: { x: 1 } }]), { x: 1 }, 'whole-document replace');
  t.same(jsonPatch({ a: { b: 1, c: [1, { d: 2 }] } }, [{ op: 'test', path: '/a', value: { c: [1, { d: 2 }], b: 1 } }]), { a: { b: 1, c: [1, { d: 2 }] } }, 'test compares deeply, key order free');
  t.same(doc.list, [1, 2, 3], 'input not mutated');

  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'test', path: '/foo', value: 'nope' }])), 'CONFLICT', 'failed test → CONFLICT');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'test', path: '/missing', value: 1 }])), 'CONFLICT');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'test', path: '/list', value: [1, 2] }])), 'CONFLICT');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'remove', path: '/missing' }])), 'VALIDATION');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'replace', path: '/list/7', value: 1 }])), 'VALIDATION');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'add', path: '/list/01', value: 1 }])), 'VALIDATION', 'leading zero index refused');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'add', path: 'foo', value: 1 }])), 'VALIDATION', 'pointer must start with /');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'add', path: '/x' }])), 'VALIDATION', 'add needs a value');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'move', from: '/nested', path: '/nested/x' }])), 'VALIDATION', 'no move into itself');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'frob', path: '/x' }])), 'VALIDATION');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'add', path: '/a/b/c', value: 1 }])), 'VALIDATION', 'missing parent');
  t.equal(codeOf(() => jsonPatch(doc, [{ op: 'add', path: '/x', value: 1 }, { op: 'test', path: '/x', value: 2 }])), 'CONFLICT', 'atomic: a later failure fails the whole patch');
});

t.test('applyPatch picks the format', async (t) => {
  t.same(applyPatch({ a: 1 }, { b: 2 }, 'auto'), { a: 1, b: 2 });
  t.same(applyPatch({ a: 1 }, [{ op: 'remove', path: '/a' }], 'auto'), {});
  t.equal(codeOf(() => applyPatch({}, { a: 1 }, 'json')), 'BAD_REQUEST');
  t.equal(codeOf(() => applyPatch({}, [1], 'merge')), 'BAD_REQUEST');
});

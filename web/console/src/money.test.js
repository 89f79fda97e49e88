// Unit tests of the money formatting: `node --test src/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { yuan, count, percent } from './money.js';
import { parseJSON } from './api.js';

test('yuan formats fen with integer arithmetic', () => {
  const cases = [
    [0, '¥0.00'],
    [5, '¥0.05'],
    [88, '¥0.88'],
    [100, '¥1.00'],
    [123456, '¥1,234.56'],
    [100_000_000, '¥1,000,000.00'],
    [-5, '-¥0.05'],
    [-123456, '-¥1,234.56'],
    [9007199254740993n, '¥90,071,992,547,409.93'],
    ['9223372036854775807', '¥92,233,720,368,547,758.07'],
  ];
  for (const [fen, want] of cases) assert.equal(yuan(fen), want, `yuan(${fen})`);
});

test('count and percent', () => {
  assert.equal(count(1234567), '1,234,567');
  assert.equal(count(-1000), '-1,000');
  assert.equal(percent(1, 3), '33.3%');
  assert.equal(percent(2, 3), '66.7%');
  assert.equal(percent(10, 10), '100.0%');
  assert.equal(percent(1, 0), '');
});

// JSON.parse source text access came with V8 11.4 (Chrome 114, Node 21).
const hasSource = JSON.parse('1', (_k, v, ctx) => ctx?.source === '1');

test('parseJSON keeps large integers exact', { skip: !hasSource && 'this Node has no JSON.parse source access' }, () => {
  const v = parseJSON('{"a": 9007199254740993, "b": 12, "c": 1.5}');
  assert.equal(v.a, 9007199254740993n);
  assert.equal(v.b, 12);
  assert.equal(v.c, 1.5);
});

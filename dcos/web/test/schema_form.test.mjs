// node --test dcos/web/test: schema_form.js (the Catalog's install form) without a browser --
// defaults, client-side checks and error placement. The expected pointers are what the package
// service's validator (dcos/packaging/render.py validate_options) answers for the same input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  changedOptions, defaultsOf, placeErrors, serverFieldErrors, setAt, validateOptions,
} from '../src/pages/schema_form.js';

const REPO = new URL('../../../packages-repo/packages/', import.meta.url).pathname;
const SCHEMA = {
  type: 'object', required: ['a'],
  properties: {
    a: {
      type: 'object', required: ['n', 'b'],
      properties: {
        n: { type: 'integer', minimum: 1, maximum: 5 }, b: { type: 'boolean' },
        e: { enum: ['x', 'y'] }, l: { type: 'array', items: { type: 'string' } },
        x: { type: 'number', exclusiveMinimum: 0 },
      },
    },
    t: { type: ['string', 'null'] },
  },
};

test('the catalog packages: their defaults pass the client-side checks', () => {
  for (const name of readdirSync(REPO)) {
    for (const rel of readdirSync(join(REPO, name))) {
      let schema;
      try {
        schema = JSON.parse(readFileSync(join(REPO, name, rel, 'config.json'), 'utf8'));
      } catch {
        continue; // a package without options
      }
      assert.deepEqual(validateOptions(schema, defaultsOf(schema)), {}, `${name}/${rel}`);
    }
  }
});

test('defaults: own default wins, objects without one collect their properties', () => {
  const schema = { properties: { s: { properties: { a: { default: 1 }, b: {} } }, o: { default: { z: 2 }, properties: { z: { default: 3 } } } } };
  assert.deepEqual(defaultsOf(schema), { s: { a: 1 }, o: { z: 2 } });
});

test('client-side checks name the same pointers as the package service', () => {
  const cases = [
    [{ a: { n: 0, b: true } }, ['/a/n']],
    [{ a: { n: 6, b: 'no' } }, ['/a/b', '/a/n']],
    [{ a: { n: 1.5 } }, ['/a/b', '/a/n']],
    [{}, ['/a']],
    [{ a: { n: 2, b: false, e: 'z', l: ['a', 3], x: 0 } }, ['/a/e', '/a/l/1', '/a/x']],
    [{ a: { n: 2, b: false }, t: null }, []],
    [{ a: { n: '3', b: false }, t: 4 }, ['/a/n', '/t']],
  ];
  for (const [value, pointers] of cases) {
    assert.deepEqual(Object.keys(validateOptions(SCHEMA, value)).sort(), pointers, JSON.stringify(value));
  }
  assert.match(validateOptions(SCHEMA, { a: { n: 0, b: true } })['/a/n'], /at least 1/);
});

test('the package service errors land on the nearest field', () => {
  const err = { body: { type: 'JsonSchemaMismatch', message: 'Options JSON failed validation', data: { errors: [
    { path: '/a/n', message: '0 is less than the minimum of 1', instance: { pointer: '/a/n' } },
    { instance: { pointer: '/a/l/1' }, message: "3 is not of type 'string'" },
    { path: '', message: "Additional properties are not allowed ('zz' was unexpected)" },
  ] } } };
  const fields = serverFieldErrors(err);
  assert.deepEqual(Object.keys(fields).sort(), ['', '/a/l/1', '/a/n']);
  const placed = placeErrors(SCHEMA, fields);
  assert.equal(placed['/a/n'], '0 is less than the minimum of 1');
  assert.equal(placed['/a/l'], "1: 3 is not of type 'string'");
  assert.match(placed[''], /Additional properties/);
  assert.equal(serverFieldErrors({ body: { type: 'PackageNotFound', message: 'x' } }), null);
});

test('changed options and pointer updates', () => {
  assert.deepEqual(changedOptions({ a: { n: 1, b: true }, t: 'q' }, { a: { n: 1, b: false }, t: 'q', k: 1 }),
    { a: { b: false }, k: 1 });
  assert.deepEqual(setAt({ a: { n: 1 } }, '/a/m~1x', 3), { a: { n: 1, 'm/x': 3 } });
  assert.deepEqual(setAt({ a: { n: 1 } }, '/a/n', undefined), { a: {} });
  const before = { a: { n: 1 } };
  setAt(before, '/a/n', 2);
  assert.deepEqual(before, { a: { n: 1 } }, 'setAt copies');
});

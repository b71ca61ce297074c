// node --test dcos/web/test: pages/catalog.js helpers without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageUrl } from '../src/pages/catalog.js';

test('package images load through the gateway', () => {
  // the package service's own address for a repository-held image -> the gateway's path
  assert.equal(imageUrl('http://10.0.0.5:7070/package/resource/icon.png?url=file%3A%2F%2F%2Frepo%2Ficon.png'),
    '/package/resource/icon.png?url=file%3A%2F%2F%2Frepo%2Ficon.png');
  assert.equal(imageUrl('http://127.0.0.1:7070/package/resource?url=x'), '/package/resource?url=x');
  // a public image as it is; anything else is no image (the letter icon is shown)
  assert.equal(imageUrl('https://example.org/i.png'), 'https://example.org/i.png');
  assert.equal(imageUrl('icon.png'), null);
  assert.equal(imageUrl('javascript:alert(1)'), null);
  assert.equal(imageUrl(undefined), null);
});

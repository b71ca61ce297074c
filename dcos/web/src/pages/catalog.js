// PLACEHOLDER while issue 12 is built: the owner of this page replaces this file.
import { html } from '../lib.js';

export function CatalogPage() {
  return html`<h1>Catalog</h1>`;
}
export function PackagePage() {
  return html`<h1>Package</h1>`;
}

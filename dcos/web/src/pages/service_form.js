// PLACEHOLDER while issue 12 is built: the owner of this page replaces this file.
import { html } from '../lib.js';

export function ServiceFormPage() {
  return html`<h1>ServiceFormPage</h1>`;
}

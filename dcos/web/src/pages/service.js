// PLACEHOLDER while issue 12 is built: the owner of this page replaces this file.
import { html } from '../lib.js';

export function ServicePage() {
  return html`<h1>ServicePage</h1>`;
}

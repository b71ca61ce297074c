// PLACEHOLDER while issue 12 is built: the owner of this page replaces this file.
import { html } from '../lib.js';

export function FrameworksPage() {
  return html`<h1>FrameworksPage</h1>`;
}

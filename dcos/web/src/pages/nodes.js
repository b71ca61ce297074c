// PLACEHOLDER while issue 12 is built: the owner of this page replaces this file.
import { html } from '../lib.js';

export function NodesPage() {
  return html`<h1>Nodes</h1>`;
}
export function NodePage() {
  return html`<h1>Node</h1>`;
}

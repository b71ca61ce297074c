// The one place the UI imports its rendering library from: preact with htm's tagged templates
// (`html\`<div>...</div>\``), and preact's hooks. Every module imports from here.
import { h, render, Fragment } from 'preact';
import htm from 'htm';

export { h, render, Fragment };
export { useState, useEffect, useMemo, useRef, useCallback, useReducer } from 'preact/hooks';
export const html = htm.bind(h);

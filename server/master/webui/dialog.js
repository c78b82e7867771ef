// Confirmation before anything that changes the cluster, and notices that
// say how it went.

import { esc } from './util.js';

/**
 * Asks for confirmation in a modal `<dialog>`. Resolves to true when the
 * operator confirms, false on Cancel or Escape. `body` is HTML.
 */
export function confirmAction({ title, body, confirmLabel }) {
  const dialog = document.getElementById('confirm-dialog');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-body').innerHTML = body;
  const ok = document.getElementById('confirm-ok');
  ok.textContent = confirmLabel;
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener('close', done);
      resolve(dialog.returnValue === 'confirm');
    };
    dialog.returnValue = '';
    dialog.addEventListener('close', done);
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/** Shows a notice; `kind` is `good` or `bad`. Good ones go away by themselves. */
export function notify(text, kind = 'good') {
  const list = document.getElementById('notices');
  const item = document.createElement('div');
  item.className = `notice ${kind}`;
  item.setAttribute('role', kind === 'bad' ? 'alert' : 'status');
  item.innerHTML = `<span class="notice-text">${esc(text)}</span><button type="button" class="link" aria-label="Dismiss this notice">×</button>`;
  item.querySelector('button').addEventListener('click', () => item.remove());
  list.prepend(item);
  while (list.children.length > 4) list.lastElementChild.remove();
  if (kind === 'good') setTimeout(() => item.remove(), 6000);
  return item;
}

/**
 * Confirms, runs `action` and tells how it went. Resolves to true when the
 * action ran and succeeded.
 */
export async function runAction({ title, body, confirmLabel, action, success }) {
  if (!(await confirmAction({ title, body, confirmLabel }))) return false;
  try {
    await action();
    notify(success, 'good');
    return true;
  } catch (e) {
    notify(`${title} failed: ${e.message}`, 'bad');
    return false;
  }
}

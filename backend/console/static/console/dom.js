// Small DOM helpers. Everything shown comes in as text (textContent, attributes), never as HTML, so nothing a user
// typed — a name, a transcript, a comment — can become markup or script.

/** h('button', {class: 'x', onclick: fn, 'aria-label': '…'}, 'text', child, …) → an element. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (key === 'class') {
      element.className = value;
    } else if (key === 'text') {
      element.textContent = value;
    } else if (key in element && typeof value !== 'string') {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's content with the given children (text or nodes). */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** Seconds → HH:MM:SS (the accessible names of segments begin with this). */
export function clock(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}`;
}

/** Seconds → HH:MM:SS.s for the times shown beside segments. */
export function clockTenths(seconds) {
  const value = Math.max(0, Number(seconds) || 0);
  return `${clock(value)}.${Math.floor((value * 10) % 10)}`;
}

const DATE_TIME = new Intl.DateTimeFormat('zh-CN', {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
});
const TIME = new Intl.DateTimeFormat('zh-CN', {hour: '2-digit', minute: '2-digit', hour12: false});

export function dateTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : DATE_TIME.format(date);
}

export function timeOfDay(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : TIME.format(date);
}

export function userName(user) {
  return (user && (user.display_name || user.username)) || '未知用户';
}

// --- messages --------------------------------------------------------------------------------------------------------

/** Show a message in the page's message area: kind 'info', 'success' or 'error' (errors are announced at once). */
export function notify(message, kind = 'info', {timeout = kind === 'error' ? 0 : 5000} = {}) {
  const area = document.getElementById('messages');
  if (!area) return null;
  const item = h('div', {class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status'},
    h('span', {class: 'message-text', text: message}),
    h('button', {type: 'button', class: 'message-close', 'aria-label': '关闭提示', onclick: () => item.remove()}, '×'));
  area.append(item);
  if (timeout) setTimeout(() => item.remove(), timeout);
  return item;
}

let openDialogs = 0;

/** Whether one of our dialogs is open (it has the keyboard then). */
export function dialogOpen() {
  return openDialogs > 0;
}

/** A modal dialog (the native <dialog>): resolves with the value of the button pressed, or null if cancelled. */
export function dialog({title, body = [], buttons = [{value: 'ok', label: '确定', primary: true}], className = ''}) {
  return new Promise((resolve) => {
    const heading = h('h2', {id: `dialog-title-${Date.now()}`, text: title});
    const actions = h('div', {class: 'dialog-actions'});
    const box = h('dialog', {class: `dialog ${className}`, 'aria-labelledby': heading.id},
      h('form', {method: 'dialog', class: 'stack'}, heading, ...[].concat(body), actions));
    for (const button of buttons) {
      const cancel = button.value === 'cancel';
      actions.append(h('button', {
        type: cancel ? 'button' : 'submit', value: button.value,
        class: `button ${button.primary ? 'primary' : ''} ${button.danger ? 'danger' : ''}`, text: button.label,
        onclick: cancel ? () => box.close('cancel') : undefined,
      }));
    }
    box.addEventListener('close', () => {
      openDialogs -= 1;
      const value = box.returnValue;
      box.remove();
      resolve(value && value !== 'cancel' ? value : null);
    });
    document.body.append(box);
    openDialogs += 1;
    box.showModal();
  });
}

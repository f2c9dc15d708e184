// What every console page shares: the signed-in user in the top bar, logging out, and one place where failures
// that no page handled become a plain Chinese message (never a stack trace; unsaved work stays in the page).

import {ApiError, currentUser, logout} from './api.js';
import {notify} from './dom.js';

window.addEventListener('unhandledrejection', (event) => {
  const reason = event.reason;
  if (reason instanceof ApiError) {
    event.preventDefault();
    if (reason.status !== 401) notify(reason.message, 'error');
    return;
  }
  if (reason && reason.name === 'AbortError') {
    event.preventDefault();
    return;
  }
  notify('页面出现意外错误，请刷新后重试；未保存的修改已保留在本页。', 'error');
});

window.addEventListener('error', () => {
  notify('页面出现意外错误，请刷新后重试；未保存的修改已保留在本页。', 'error');
});

/** Show who is signed in; resolves with the user (a page that needs no login does not call this). */
export async function startPage() {
  const user = await currentUser();
  const name = document.getElementById('current-user');
  if (name) name.textContent = `${user.display_name || user.username}`;
  const button = document.getElementById('logout');
  if (button) {
    button.hidden = false;
    button.addEventListener('click', () => logout());
  }
  return user;
}

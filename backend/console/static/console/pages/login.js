// The login page: username and password to POST /api/v1/auth/session (the session comes back as HttpOnly
// cookies), then on to ?next= (a console page) or to "my work".

import {ApiError, login, nextPage} from '../api.js';
import '../layout.js';

const form = document.getElementById('login-form');
const error = document.getElementById('login-error');
const submit = document.getElementById('login-submit');
const username = document.getElementById('username');
const password = document.getElementById('password');

if (new URLSearchParams(location.search).get('next')) document.getElementById('login-next').hidden = false;
username.focus();

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  if (!username.value.trim() || !password.value) {
    error.textContent = '请填写用户名和密码';
    (username.value.trim() ? password : username).focus();
    return;
  }
  submit.disabled = true;
  try {
    await login(username.value.trim(), password.value);
    location.assign(nextPage());
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    const wait = failure.details && failure.details.retry_after;
    error.textContent = failure.code === 'login_throttled' && wait
      ? `登录失败次数过多，请 ${wait} 秒后再试` : failure.message;
    password.select();
    password.focus();
  } finally {
    submit.disabled = false;
  }
});

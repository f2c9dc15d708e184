// The console's one way to the JSON API (/api/v1/...): the session cookie goes along, every change carries
// X-CSRF-TOKEN (the double submit of flask-jwt-extended's cookie mode), an expired access token is refreshed once
// (one refresh at a time, across tabs), and every failure becomes an ApiError with a plain Chinese message —
// never a stack trace or a server's HTML. A session that cannot be renewed sends the user to the login page with
// ?next= pointing back here; pages keep unsaved work in sessionStorage (drafts.js), so it is there on return.

const SESSION_PATH = '/api/v1/auth/session';
const LOGIN_PAGE = '/console/login';

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export function readCookie(name) {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return '';
}

function csrfCookieFor(url) {
  return new URL(url, location.href).pathname.startsWith(SESSION_PATH) ? 'csrf_refresh_token' : 'csrf_access_token';
}

/** The ETag a save must send back: `"3"` for version 3. */
export function etagFor(version) {
  return `"${version}"`;
}

/** The version an ETag names (`"3"`, `W/"3"`), or null. */
export function versionOf(etag) {
  const match = /^(?:W\/)?"?(\d+)"?$/.exec((etag || '').trim());
  return match ? Number(match[1]) : null;
}

const PLAIN_STATUS = {
  0: '网络连接中断，您的修改仍保留在本页，请检查网络后重试',
  413: '提交的内容过大',
  429: '请求过于频繁，请稍后再试',
  502: '服务器暂时无法访问，请稍后重试；您的修改仍保留在本页',
  503: '服务器暂时无法访问，请稍后重试；您的修改仍保留在本页',
  504: '服务器响应超时，请稍后重试；您的修改仍保留在本页',
};

async function errorOf(response) {
  let body = null;
  if ((response.headers.get('Content-Type') || '').includes('application/json')) {
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
  }
  const error = body && typeof body === 'object' ? body.error : null;
  if (error && typeof error.message === 'string') {
    return new ApiError(response.status, String(error.code || 'error'), error.message, error.details);
  }
  const message = PLAIN_STATUS[response.status] ||
    (response.status >= 500 ? `服务器出错（${response.status}），请稍后重试；您的修改仍保留在本页`
      : `请求未成功（${response.status}）`);
  return new ApiError(response.status, `http_${response.status}`, message);
}

// --- the session ---------------------------------------------------------------------------------------------------

let refreshing = null;
let leaving = false;

/** Renew the session with the refresh cookie, once for all callers (and, with Web Locks, for all tabs): a tab that
 * finds the access cookie already renewed by another tab does not spend the refresh token a second time (a second
 * use of one refresh token would end the whole login). */
function refreshSession(staleCsrf) {
  const run = async () => {
    const now = readCookie('csrf_access_token');
    if (now && now !== staleCsrf) return true;
    try {
      const response = await fetch(`${SESSION_PATH}/refresh`, {
        method: 'POST', credentials: 'same-origin',
        headers: {'Accept': 'application/json', 'X-CSRF-TOKEN': readCookie('csrf_refresh_token')},
      });
      return response.ok;
    } catch (_) {
      return false;
    }
  };
  if (!refreshing) {
    const locked = navigator.locks ? navigator.locks.request('liufang-session-refresh', run) : run();
    refreshing = locked.finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** Where the login page sends the user back to: this page, with its query and hash. */
export function loginUrl(next = location.pathname + location.search + location.hash) {
  return `${LOGIN_PAGE}?next=${encodeURIComponent(next)}`;
}

/** The session is over: tell the page (so it can store unsaved work), then go to the login page. */
export function sessionLost() {
  if (leaving) return;
  leaving = true;
  window.dispatchEvent(new CustomEvent('liufang:session-lost'));
  location.assign(loginUrl());
}

// --- requests --------------------------------------------------------------------------------------------------------

/**
 * Send one request. Options: `body` (sent as JSON), `ifMatch` (an ETag), `headers`, `signal`, `session: false`
 * (a 401 is only reported, e.g. a wrong password at login), `as`: 'json' (default), 'text', 'blob' or 'none'.
 * Resolves to {status, data, etag, headers}; rejects with an ApiError.
 */
export async function request(method, url, options = {}) {
  const {body, ifMatch, headers = {}, signal, session = true, as = 'json', keepalive = false} = options;
  for (let attempt = 0; ; attempt += 1) {
    const csrf = readCookie(csrfCookieFor(url));
    const accessCsrf = readCookie('csrf_access_token');
    const sent = {'Accept': 'application/json', ...headers};
    if (method !== 'GET' && method !== 'HEAD') sent['X-CSRF-TOKEN'] = csrf;
    if (body !== undefined) sent['Content-Type'] = 'application/json';
    if (ifMatch) sent['If-Match'] = ifMatch;
    let response;
    try {
      response = await fetch(url, {
        method, headers: sent, credentials: 'same-origin', signal, keepalive,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (error && error.name === 'AbortError') throw error;
      throw new ApiError(0, 'network', PLAIN_STATUS[0]);
    }
    if (response.status === 401 && session) {
      const error = await errorOf(response);
      const renewable = error.code === 'token_expired' || error.code === 'csrf_failed';
      if (attempt === 0 && renewable && await refreshSession(accessCsrf)) continue;
      sessionLost();
      throw error;
    }
    if (!response.ok) throw await errorOf(response);
    let data = null;
    if (response.status !== 204 && as !== 'none') {
      try {
        data = as === 'text' ? await response.text() : as === 'blob' ? await response.blob() : await response.json();
      } catch (_) {
        throw new ApiError(response.status, 'bad_response', '服务器的回答无法读取，请稍后重试');
      }
    }
    return {status: response.status, data, etag: response.headers.get('ETag'), headers: response.headers};
  }
}

export const api = {
  get: (url, options) => request('GET', url, options),
  post: (url, body, options = {}) => request('POST', url, {...options, body}),
  put: (url, body, options = {}) => request('PUT', url, {...options, body}),
  patch: (url, body, options = {}) => request('PATCH', url, {...options, body}),
  delete: (url, options) => request('DELETE', url, options),
};

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// --- the logged-in user ------------------------------------------------------------------------------------------

let me = null;

/** The logged-in user with their permissions (GET /api/v1/auth/me, once per page). */
export function currentUser() {
  if (!me) me = api.get('/api/v1/auth/me').then(({data}) => data);
  return me;
}

export function can(user, permission) {
  return Boolean(user && Array.isArray(user.permissions) && user.permissions.includes(permission));
}

export async function login(username, password) {
  const {data} = await api.post(SESSION_PATH, {username, password}, {session: false});
  me = Promise.resolve(data.user);
  return data.user;
}

export async function logout() {
  try {
    await api.delete(SESSION_PATH, {session: false, as: 'none'});
  } catch (_) {
    // Already over on the server: the login page is the right place either way.
  }
  leaving = true;
  location.assign(LOGIN_PAGE);
}

/** Where to go after logging in: a console page named by ?next=, never another site. */
export function nextPage(search = location.search) {
  const next = new URLSearchParams(search).get('next') || '';
  return next.startsWith('/console/') && !next.startsWith('//') && !next.includes('\\') ? next : '/console/';
}

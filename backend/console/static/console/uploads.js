// Resumable uploads from the browser to POST /api/v1/uploads (tus 1.0.0) with the vendored tus-js-client: the file
// goes in 1 MiB chunks, each sent with the session cookie and X-CSRF-TOKEN; a chunk that fails is tried again a few
// times, and after that the upload waits for the user's "继续上传", which asks the server for the offset it holds
// (HEAD) and goes on from there — also after a reload, since tus-js-client remembers the upload's URL by the file's
// fingerprint. The last chunk's answer names the material the file became (Liufang-Material-Id).

import {ApiError, api, readCookie} from './api.js';

const TUS_SCRIPT = '/console/static/vendor/tus-js-client-4.3.1/tus.min.js';
export const CHUNK_SIZE = 1024 * 1024;
const RETRY_DELAYS = [0, 1000, 2000];

let loading = null;

/** tus-js-client, loaded when first needed (a classic script: it defines window.tus). */
function loadTus() {
  if (window.tus) return Promise.resolve(window.tus);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = TUS_SCRIPT;
      script.addEventListener('load', () => resolve(window.tus));
      script.addEventListener('error', () => {
        loading = null;
        script.remove();
        reject(new ApiError(0, 'network', '上传组件未能加载，请检查网络后重试'));
      });
      document.head.append(script);
    });
  }
  return loading;
}

function statusOf(error) {
  const response = error && error.originalResponse;
  return response ? response.getStatus() : 0;
}

/** The server's Chinese message from a failed tus request, or a plain one. */
function messageOf(error) {
  const response = error && error.originalResponse;
  const status = statusOf(error);
  if (response) {
    try {
      const body = JSON.parse(response.getBody() || 'null');
      if (body && body.error && typeof body.error.message === 'string') return body.error.message;
    } catch (_) {
      // not JSON: a proxy's page or nothing at all
    }
  }
  if (!status) return '网络连接中断，已上传的部分会保留；请检查网络后点“继续上传”从中断处接着传';
  if (status >= 500) return `服务器暂时无法接收文件（${status}），已上传的部分会保留；请稍后点“继续上传”`;
  return `上传未成功（${status}）`;
}

/** A transient failure (network, server, a conflict with the same upload in another tab): resume later. */
function resumable(status) {
  return !status || status >= 500 || status === 409 || status === 423 || status === 429;
}

export class ResumableUpload {
  /** ``metadata``: tus metadata (filename, filetype, title, person_id, role…); ``onProgress(sent, total)``. */
  constructor(file, {metadata = {}, onProgress = () => {}} = {}) {
    this.file = file;
    this.metadata = {filename: file.name, filetype: file.type || 'application/octet-stream', ...metadata};
    this.onProgress = onProgress;
    this.upload = null;
    this.renewals = 0;
  }

  /** Send the file (or the rest of it); resolves with {materialId, duplicate}, rejects with an ApiError whose
   * ``resumable`` says whether start() may be called again to go on from where the server stopped. */
  async start() {
    const tus = await loadTus();
    await api.get('/api/v1/auth/me');  // renews an expired session first, so the chunks carry a valid cookie
    if (!this.upload) {
      this.upload = new tus.Upload(this.file, {
        endpoint: '/api/v1/uploads',
        chunkSize: CHUNK_SIZE,
        retryDelays: RETRY_DELAYS,
        metadata: this.metadata,
        removeFingerprintOnSuccess: true,
        onBeforeRequest: (request) => {
          request.setHeader('X-CSRF-TOKEN', readCookie('csrf_access_token'));
        },
        onShouldRetry: (error) => resumable(statusOf(error)),
        onProgress: (sent, total) => this.onProgress(sent, total),
        onSuccess: (payload) => this._succeeded(payload),
        onError: (error) => this._failed(error),
      });
      const previous = await this.upload.findPreviousUploads();
      if (previous.length) this.upload.resumeFromPreviousUpload(previous[0]);
    }
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.upload.start();
    });
  }

  async _succeeded(payload) {
    const header = payload && payload.lastResponse ? payload.lastResponse.getHeader('Liufang-Material-Id') : null;
    let materialId = header ? Number(header) : null;
    let duplicate = payload && payload.lastResponse
      ? payload.lastResponse.getHeader('Liufang-Duplicate') === 'true' : false;
    try {
      if (!materialId) {
        const {data} = await api.get(this.upload.url);
        materialId = data.material_id;
        duplicate = Boolean(data.duplicate);
      }
      if (!materialId) throw new ApiError(500, 'upload_unfinished', '文件已上传，但服务器未能生成资料，请稍后重试');
      this.resolve({materialId, duplicate});
    } catch (error) {
      this.reject(error);
    }
  }

  async _failed(error) {
    const status = statusOf(error);
    if (status === 401 && this.renewals < 1) {
      // The session expired during the upload: renew it (or go to the login page) and go on.
      this.renewals += 1;
      try {
        await api.get('/api/v1/auth/me');
        this.upload.start();
        return;
      } catch (failure) {
        this.reject(failure);
        return;
      }
    }
    const failure = new ApiError(status, status ? `upload_${status}` : 'network', messageOf(error));
    failure.resumable = resumable(status);
    if (!failure.resumable) this.upload = null;  // the server refused the file: a new try starts afresh
    this.reject(failure);
  }
}

/** "1.2 MB" for a progress line. */
export function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

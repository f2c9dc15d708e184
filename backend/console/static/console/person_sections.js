// The parts of a profile page below its fields: linked materials (thumbnails, players for the proxies, the first
// page of PDFs, all from the derivative variants), interviews, consents (recording one with the signed form sent
// over tus, withdrawing one), the audit trail and the notifications about the profile. Each reads its own API.

import {ApiError, api, can, query} from './api.js';
import {dateTime, h, notify, replace} from './dom.js';
import {
  ACCESS, AUDIT_ACTION, FIELD, KIND, LINK_ROLE, LocalError, MATERIAL_STATUS, SCOPE, STATUS, contentUrl, fillSelect,
  formDialog, label,
} from './desk.js';
import {ResumableUpload, sizeText} from './uploads.js';

function done(box, ...children) {
  box.removeAttribute('aria-busy');
  replace(box, ...children);
}

function failed(box, failure) {
  if (!(failure instanceof ApiError)) throw failure;
  done(box, h('p', {class: 'form-error', text: `未能读取：${failure.message}`}));
}

// --- materials --------------------------------------------------------------------------------------------------

function preview(material) {
  const variants = new Set(material.variants || []);
  const title = material.title || material.original_filename || `资料 ${material.id}`;
  if (material.kind === 'video' && variants.has('proxy')) {
    return h('video', {controls: true, preload: 'none', src: contentUrl(material.id, 'proxy'),
      poster: variants.has('poster') ? contentUrl(material.id, 'poster') : null, 'aria-label': `播放录像：${title}`});
  }
  if (material.kind === 'audio' && variants.has('proxy')) {
    return h('audio', {controls: true, preload: 'none', src: contentUrl(material.id, 'proxy'),
      'aria-label': `播放录音：${title}`});
  }
  if (variants.has('thumbnail')) {
    const what = material.kind === 'document' ? `${title}（第一页）` : title;
    return h('img', {src: contentUrl(material.id, 'thumbnail'), alt: what, loading: 'lazy', class: 'thumb'});
  }
  return h('div', {class: 'thumb placeholder', text: material.status === 'ready'
    ? label(KIND, material.kind) : `${label(MATERIAL_STATUS, material.status)}，稍后可预览`});
}

export async function showMaterials(person) {
  const box = document.getElementById('materials-list');
  try {
    const {data} = await api.get(`/api/v1/persons/${person.id}/materials${query({per_page: 100})}`);
    if (!data.items.length) {
      done(box, h('p', {class: 'muted', text: '还没有关联资料。'}));
      return data;
    }
    done(box, h('ul', {class: 'material-grid'}, data.items.map((material) => {
      const title = material.title || material.original_filename || `资料 ${material.id}`;
      return h('li', {class: 'material'},
        h('figure', {}, preview(material),
          h('figcaption', {},
            h('span', {class: 'item-title', text: title}),
            h('span', {class: 'muted small block', text: [label(KIND, material.kind),
              label(MATERIAL_STATUS, material.status), `${label(ACCESS, material.access_level)}`,
              material.captured_at ? dateTime(material.captured_at) : null].filter(Boolean).join(' · ')}),
            h('a', {href: contentUrl(material.id, 'original'), target: '_blank', rel: 'noopener',
              class: 'small', text: '打开原件', 'aria-label': `打开原件：${title}`}))));
    })));
    return data;
  } catch (failure) {
    failed(box, failure);
    return null;
  }
}

// --- interviews -------------------------------------------------------------------------------------------------

export async function showInterviews(person) {
  const box = document.getElementById('interviews-list');
  try {
    const {data} = await api.get(`/api/v1/interviews${query({person_id: person.id, per_page: 100})}`);
    done(box, data.items.length ? h('ul', {class: 'items'}, data.items.map((interview) => h('li', {},
      h('span', {class: 'item-title', text: interview.title || `访谈 ${interview.id}`}),
      h('span', {class: 'muted small', text: [interview.date, interview.place, interview.language,
        (interview.interviewers || []).length ? `采访人：${interview.interviewers.join('、')}` : null]
        .filter(Boolean).join(' · ')}),
      interview.notes ? h('span', {class: 'small pre', text: interview.notes}) : null)))
      : h('p', {class: 'muted', text: '还没有访谈记录。'}));
    return data.items;
  } catch (failure) {
    failed(box, failure);
    return [];
  }
}

// --- consents ---------------------------------------------------------------------------------------------------

export async function showConsents(person, interviews, onChange) {
  const box = document.getElementById('consents-list');
  const titles = Object.fromEntries(interviews.map((interview) => [interview.id, interview.title]));
  try {
    const {data} = await api.get(`/api/v1/persons/${person.id}/consents${query({per_page: 100})}`);
    if (!data.items.length) {
      done(box, h('p', {class: 'muted', text: '还没有登记授权书。'}));
      return;
    }
    const mayWithdraw = (person.actions || []).includes('withdraw_consent');
    done(box, h('div', {class: 'table-wrap'}, h('table', {class: 'table compact'},
      h('caption', {class: 'visually-hidden', text: '授权书'}),
      h('thead', {}, h('tr', {}, ['授权范围', '签署日期', '适用', '附加条件', '授权书文件', '状态', '操作']
        .map((text) => h('th', {scope: 'col', text})))),
      h('tbody', {}, data.items.map((consent) => h('tr', {class: consent.active ? '' : 'inactive'},
        h('td', {text: label(SCOPE, consent.scope)}),
        h('td', {class: 'nowrap', text: consent.signed_at}),
        h('td', {text: consent.interview_scoped
          ? `仅限访谈：${titles[consent.interview_id] || `#${consent.interview_id || '（已删除）'}`}` : '本人'}),
        h('td', {class: 'pre', text: consent.conditions || '—'}),
        h('td', {}, consent.material_id ? h('a', {href: contentUrl(consent.material_id, 'original'),
          target: '_blank', rel: 'noopener', text: '查看授权书'}) : '—'),
        h('td', {}, consent.active ? h('span', {class: 'badge status-approved', text: '有效'})
          : h('span', {}, h('span', {class: 'badge', text: '已撤回'}),
            h('span', {class: 'muted small block', text: dateTime(consent.withdrawn_at)}),
            consent.withdraw_reason ? h('span', {class: 'small block pre', text: consent.withdraw_reason}) : null)),
        h('td', {}, consent.active && mayWithdraw ? h('button', {type: 'button', class: 'button small danger',
          text: '撤回授权', 'aria-label': `撤回授权：${label(SCOPE, consent.scope)}，${consent.signed_at}`,
          onclick: () => withdrawConsent(person, consent, onChange)}) : null)))))));
  } catch (failure) {
    failed(box, failure);
  }
}

async function withdrawConsent(person, consent, onChange) {
  const reason = h('textarea', {id: 'withdraw-reason', name: 'reason', maxlength: 5000, rows: 3});
  const result = await formDialog({
    title: '撤回授权书', submitLabel: '确认撤回授权', danger: true,
    body: [h('p', {text: consent.scope === 'public'
      ? '撤回后，如此人没有其他有效的公开授权，已发布的档案会立即撤下。' : '撤回后，此授权书不再有效。'}),
    h('div', {class: 'field'}, h('label', {for: 'withdraw-reason', text: '撤回原因（可不填）'}), reason)],
    onSubmit: () => api.post(`/api/v1/persons/${person.id}/consents/${consent.id}/withdraw`,
      {reason: reason.value.trim() || null}),
  });
  if (result) {
    notify('授权书已撤回', 'success');
    await onChange();
  }
}

// --- uploading through tus (the consent form and other materials) ---------------------------------------------

/** Wire an upload form: its file input, progress line, error line and "继续上传" button; `send(file, upload)`
 * returns the promise of the whole job. A failed upload keeps the form and goes on from the server's offset. */
function uploadForm(form, {progressBox, metadata, finish}) {
  const error = form.querySelector('.form-error');
  const resume = form.querySelector('[data-resume]');
  const submit = form.querySelector('[type="submit"]');
  const bar = progressBox.querySelector('progress');
  const line = progressBox.querySelector('span');
  let upload = null;
  let uploadedFile = null;
  let materialId = null;

  const run = async () => {
    error.textContent = '';
    resume.hidden = true;
    submit.disabled = true;
    try {
      if (!materialId) {
        progressBox.hidden = false;
        const result = await upload.start();
        materialId = result.materialId;
        bar.value = 100;
        line.textContent = result.duplicate ? '文件已在档案中（相同内容），直接使用' : '文件已上传';
      }
      await finish(materialId);
      form.reset();
      upload = null;
      uploadedFile = null;
      materialId = null;
      progressBox.hidden = true;
    } catch (failure) {
      if (!(failure instanceof ApiError || failure instanceof LocalError)) throw failure;
      error.textContent = failure.message;
      if (failure.resumable) resume.hidden = false;
      else if (!materialId) upload = null;
    } finally {
      submit.disabled = false;
    }
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const file = form.querySelector('input[type="file"]').files[0];
    if (!file) {
      error.textContent = '请先选择要上传的文件';
      form.querySelector('input[type="file"]').focus();
      return;
    }
    try {
      metadata(true);
    } catch (failure) {
      if (!(failure instanceof LocalError)) throw failure;
      error.textContent = failure.message;
      if (failure.field) form.querySelector(`#${failure.field}`).focus();
      return;
    }
    if (file !== uploadedFile) {
      uploadedFile = file;
      materialId = null;
      upload = new ResumableUpload(file, {
        metadata: metadata(false),
        onProgress: (sent, total) => {
          bar.value = total ? Math.floor((sent / total) * 100) : 0;
          line.textContent = `已上传 ${sizeText(sent)} / ${sizeText(total)}（${bar.value}%）`;
        },
      });
    }
    await run();
  });
  resume.addEventListener('click', run);
}

/** The consent form, wired once: `current()` is the profile as the page now has it. */
export function consentForm(current, interviews, onRecorded) {
  const form = document.getElementById('consent-form');
  const scope = document.getElementById('consent-scope');
  const signed = document.getElementById('consent-signed');
  const interview = document.getElementById('consent-interview');
  const conditions = document.getElementById('consent-conditions');
  fillSelect(scope, SCOPE, {value: 'public'});
  fillSelect(interview, Object.fromEntries(interviews.map((item) => [item.id, `仅限访谈：${item.title || item.id}`])),
    {empty: '本人（不限于某次访谈）'});
  const today = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);  // the archive's day (UTC+8)
  signed.max = today;
  signed.defaultValue = today;
  uploadForm(form, {
    progressBox: document.getElementById('consent-progress'),
    metadata: (check) => {
      if (check && !signed.value) throw new LocalError('请填写签署日期', 'consent-signed');
      if (check && signed.value > today) throw new LocalError('签署日期不能晚于今天', 'consent-signed');
      return {title: `授权书 · ${current().name}`};
    },
    finish: async (materialId) => {
      await api.post(`/api/v1/persons/${current().id}/consents`, {
        scope: scope.value, signed_at: signed.value, material_id: materialId,
        interview_id: interview.value ? Number(interview.value) : null, conditions: conditions.value,
      });
      notify('授权书已登记', 'success');
      await onRecorded();
    },
  });
  document.getElementById('consent-upload').hidden = false;
  return form;
}

export function materialForm(person, onUploaded) {
  const form = document.getElementById('material-form');
  const title = document.getElementById('material-title');
  const role = document.getElementById('material-role');
  fillSelect(role, LINK_ROLE, {value: 'subject'});
  uploadForm(form, {
    progressBox: document.getElementById('material-progress'),
    metadata: () => ({person_id: String(person.id), role: role.value, ...(title.value.trim()
      ? {title: title.value.trim()} : {})}),
    finish: async () => {
      notify('资料已上传，处理完成后即可预览', 'success');
      await onUploaded();
    },
  });
  document.getElementById('material-upload').hidden = false;
  return form;
}

// --- the audit trail and notifications ------------------------------------------------------------------------

function changeText(field, change) {
  if (field === 'status') {
    return `状态：${label(STATUS, change.before)} → ${label(STATUS, change.after)}`;
  }
  return FIELD[field] || field;
}

export async function showAudit(person, user) {
  const section = document.getElementById('audit');
  if (!can(user, 'audit.read')) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const box = document.getElementById('audit-list');
  try {
    const {data} = await api.get(`/api/v1/audit${query({entity_type: 'person', entity_id: person.id, per_page: 100})}`);
    done(box, data.items.length ? h('ol', {class: 'items audit'}, data.items.map((event) => {
      const changes = Object.entries(event.changes || {});
      const status = changes.filter(([field]) => field === 'status').map(([f, c]) => changeText(f, c));
      const fields = changes.filter(([field]) => field !== 'status').map(([field]) => FIELD[field] || field);
      return h('li', {},
        h('span', {class: 'item-title', text: `${label(AUDIT_ACTION, event.action)} · ${event.actor_name || '系统'}`}),
        h('span', {class: 'muted small', text: dateTime(event.created_at)}),
        status.length ? h('span', {class: 'small', text: status.join('；')}) : null,
        fields.length && event.action !== 'create'
          ? h('span', {class: 'small', text: `修改了：${fields.join('、')}`}) : null,
        event.comment ? h('blockquote', {class: 'comment', text: event.comment}) : null);
    })) : h('p', {class: 'muted', text: '暂无记录。'}));
  } catch (failure) {
    failed(box, failure);
  }
}

export async function showNotifications(person) {
  const box = document.getElementById('notifications-list');
  try {
    const {data} = await api.get(`/api/v1/me/notifications${query({entity_type: 'person', entity_id: person.id,
      per_page: 20})}`);
    done(box, data.items.length ? h('ul', {class: 'items notifications'}, data.items.map((item) => {
      const entry = h('li', {class: item.read ? 'read' : 'unread'},
        h('span', {class: 'item-title', text: item.message}),
        item.comment ? h('blockquote', {class: 'comment', text: item.comment}) : null,
        h('span', {class: 'muted small', text: `${item.actor_name || '系统'} · ${dateTime(item.created_at)}${
          item.read ? '' : ' · 未读'}`}));
      if (!item.read) {
        entry.append(h('button', {type: 'button', class: 'button small', text: '标为已读', onclick: async () => {
          await api.post(`/api/v1/me/notifications/${item.id}/read`);
          await showNotifications(person);
        }}));
      }
      return entry;
    })) : h('p', {class: 'muted', text: '没有与此档案有关的通知。'}));
  } catch (failure) {
    failed(box, failure);
  }
}

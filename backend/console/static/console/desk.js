// What the pages of the archivists' desk share: the Chinese names of the API's codes, links to a material's
// variants, and a dialog whose form stays open, with what was typed, until the server has accepted it.

import {ApiError} from './api.js';
import {h} from './dom.js';

export const CATEGORY = {good_person: '好人', notable: '名家', local_worthy: '乡贤'};
export const STATUS = {
  draft: '草稿', submitted: '待审核', returned: '已退回', approved: '已审核', published: '已发布', withdrawn: '已撤回',
};
export const GENDER = {male: '男', female: '女', other: '其他', unknown: '不详'};
export const SCOPE = {archive_only: '仅存档', research: '可供研究', public: '可公开发布'};
export const KIND = {audio: '录音', video: '录像', image: '图片', document: '文档'};
export const ACCESS = {open: '开放', restricted: '受限', closed: '不开放'};
export const MATERIAL_STATUS = {uploaded: '等待处理', processing: '处理中', ready: '可用', failed: '文件损坏'};
export const LINK_ROLE = {
  subject: '本人资料', interviewee: '受访人', certificate: '证书奖状', mentioned: '提及', donor: '捐赠人',
  interviewer: '采访人', photographer: '摄影者', other: '其他',
};
export const AUDIT_ACTION = {
  create: '创建', update: '修改', submit: '提交审核', approve: '审核通过', return: '退回', publish: '发布',
  withdraw: '撤回', delete: '删除',
};
export const FIELD = {
  category: '类别', name: '姓名', aliases: '别名', gender: '性别', ethnicity: '民族', birth_date: '出生日期',
  death_date: '去世日期', native_place: '籍贯', area: '所在地区', occupation: '职业或领域', honours: '荣誉',
  biography: '事迹/生平', tags: '标签', id_number: '身份证号', phone: '电话', address: '住址', status: '状态',
};
export const SORT = {
  '-updated': '最近更新在前', 'updated': '最早更新在前', '-created': '最新建档在前', 'created': '最早建档在前',
  'pinyin': '按拼音 A→Z', '-pinyin': '按拼音 Z→A',
};

export function label(names, code) {
  return (code && names[code]) || code || '';
}

/** `<option>`s of a select from {code: label}, with an optional first "all"/"none" option. */
export function fillSelect(select, names, {empty = null, value = ''} = {}) {
  select.replaceChildren();
  // The chosen value is also the default one (the `selected` attribute), so a form's reset() returns to it.
  if (empty !== null) select.append(h('option', {value: '', text: empty, selected: value ? undefined : ''}));
  for (const [code, text] of Object.entries(names)) {
    select.append(h('option', {value: code, text, selected: code === value ? '' : undefined}));
  }
  select.value = value || '';
}

export function areaText(area) {
  return [area && area.district, area && area.town, area && area.village].filter(Boolean).join(' ');
}

export function contentUrl(materialId, variant) {
  return `/api/v1/materials/${encodeURIComponent(materialId)}/content?variant=${encodeURIComponent(variant)}`;
}

export function statusBadge(status) {
  return h('span', {class: `badge person-status status-${status}`, text: label(STATUS, status)});
}

/**
 * A modal form: `body` (nodes), `submitLabel`, `onSubmit(form)` → a value. The dialog closes and resolves with the
 * value only when onSubmit succeeds; an ApiError (or a LocalError for checks made here) is shown inside the
 * dialog and everything typed stays. Cancelling resolves with null.
 */
export function formDialog({title, body = [], submitLabel = '确定', danger = false, onSubmit}) {
  return new Promise((resolve) => {
    const id = `dialog-${Math.random().toString(36).slice(2)}`;
    const error = h('p', {class: 'form-error', role: 'alert'});
    const submit = h('button', {type: 'submit', class: `button ${danger ? 'danger' : 'primary'}`, text: submitLabel});
    const cancel = h('button', {type: 'button', class: 'button', text: '取消'});
    const form = h('form', {class: 'stack', novalidate: true}, h('h2', {id, text: title}), body, error,
      h('div', {class: 'dialog-actions'}, cancel, submit));
    const box = h('dialog', {class: 'dialog', 'aria-labelledby': id}, form);
    let result = null;
    const close = () => box.close();
    cancel.addEventListener('click', close);
    box.addEventListener('close', () => {
      box.remove();
      resolve(result);
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      submit.disabled = true;
      try {
        result = await onSubmit(form);
        if (result === undefined) result = true;
        close();
      } catch (failure) {
        if (!(failure instanceof ApiError || failure instanceof LocalError)) throw failure;
        error.textContent = failure.message;
        const focus = failure.field && form.querySelector(`[name="${failure.field}"]`);
        if (focus) focus.focus();
      } finally {
        submit.disabled = false;
      }
    });
    document.body.append(box);
    box.showModal();
    const first = form.querySelector('textarea, input, select');
    (first || submit).focus();
  });
}

/** A problem found in the page before anything was sent (a required comment left empty). */
export class LocalError extends Error {
  constructor(message, field = null) {
    super(message);
    this.name = 'LocalError';
    this.field = field;
  }
}

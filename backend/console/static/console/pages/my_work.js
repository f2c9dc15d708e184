// "My work": the transcripts I hold a claim on, what waits for me (machine transcripts to correct; for those who
// approve, reviewed ones), and my notifications (each links to the record it is about).

import {api, can, query} from '../api.js';
import {dateTime, h, notify, replace, timeOfDay, userName} from '../dom.js';
import {startPage} from '../layout.js';

const STATUS = {machine: '机器转写', in_review: '校对中', reviewed: '已校对待审定', approved: '已审定'};

export function transcriptLink(item) {
  return h('a', {href: `/console/transcripts/${item.id}`, class: 'item-link'},
    h('span', {class: 'item-title', text: item.material_title || `转写稿 ${item.id}`}),
    h('span', {class: `badge status-${item.status}`, text: STATUS[item.status] || item.status}),
    item.flagged_count ? h('span', {class: 'badge flag', text: `${item.flagged_count} 处待核`}) : null);
}

function transcriptList(items, empty, describe) {
  if (!items.length) return h('p', {class: 'muted', text: empty});
  return h('ul', {class: 'items'}, items.map((item) => h('li', {}, transcriptLink(item),
    h('span', {class: 'muted small', text: describe(item)}))));
}

function linkFor(notification) {
  const id = encodeURIComponent(notification.entity_id);
  if (notification.entity_type === 'transcript') return `/console/transcripts/${id}`;
  if (notification.entity_type === 'person') return `/console/persons/${id}`;
  return null;
}

async function showNotifications() {
  const box = document.getElementById('notifications');
  const {data} = await api.get(`/api/v1/me/notifications${query({per_page: 30})}`);
  const readAll = document.getElementById('read-all');
  readAll.hidden = !data.unread;
  box.removeAttribute('aria-busy');
  if (!data.items.length) {
    replace(box, h('p', {class: 'muted', text: '暂无通知'}));
    return;
  }
  replace(box, h('ul', {class: 'items notifications'}, data.items.map((item) => {
    const target = linkFor(item);
    const open = async (event) => {
      if (item.read) return;
      event.preventDefault();
      await api.post(`/api/v1/me/notifications/${item.id}/read`);
      location.assign(target);
    };
    return h('li', {class: item.read ? 'read' : 'unread'},
      target ? h('a', {href: target, onclick: open, class: 'item-title', text: item.message})
        : h('span', {class: 'item-title', text: item.message}),
      item.comment ? h('blockquote', {class: 'comment', text: item.comment}) : null,
      h('span', {class: 'muted small', text: `${item.actor_name || '系统'} · ${dateTime(item.created_at)}${item.read ? '' : ' · 未读'}`}));
  })));
}

async function main() {
  const user = await startPage();
  document.getElementById('read-all').addEventListener('click', async () => {
    await api.post('/api/v1/me/notifications/read-all');
    notify('已全部标为已读', 'success');
    await showNotifications();
  });
  const claims = document.getElementById('my-claims');
  const waiting = document.getElementById('waiting');
  const jobs = [showNotifications()];
  if (can(user, 'transcript.edit')) {
    jobs.push(api.get(`/api/v1/transcripts${query({holder: user.id, per_page: 50})}`).then(({data}) => {
      claims.removeAttribute('aria-busy');
      replace(claims, transcriptList(data.items, '您目前没有认领中的转写稿。', (item) =>
        `锁定至 ${timeOfDay(item.lock && item.lock.expires_at)} · ${item.segment_count} 段`));
    }));
    const status = can(user, 'transcript.approve') ? 'reviewed' : 'machine';
    jobs.push(api.get(`/api/v1/transcripts${query({status, per_page: 10})}`).then(({data}) => {
      waiting.removeAttribute('aria-busy');
      const heading = status === 'reviewed' ? '待审定（已校对）' : '待校对（机器转写，待核最多的在前）';
      replace(waiting, h('p', {class: 'muted small', text: `${heading}：共 ${data.total} 份`}),
        transcriptList(data.items, '暂无等待处理的转写稿。', (item) =>
          item.lock ? `${userName(item.lock.holder)} 正在校对` : `${item.segment_count} 段 · ${dateTime(item.created_at)}`),
        h('p', {}, h('a', {href: `/console/transcripts${query({status})}`, text: '在校对队列中查看全部 →'})));
    }));
  } else {
    for (const box of [claims, waiting]) {
      box.removeAttribute('aria-busy');
      replace(box, h('p', {class: 'muted', text: '您的角色不校对转写稿；采集工作请使用手机应用。'}));
    }
  }
  await Promise.all(jobs);
}

main();

// The demo page: Resumable.js, configured as a page would configure it for
// chunkup, with a row per file (progress, pause/resume, and what S3 holds
// once the file is complete).
'use strict';

const MiB = 1024 * 1024;

const uploader = new Resumable({
  target: '/resumable',
  chunkSize: 1 * MiB,
  simultaneousUploads: 3,
  testChunks: true,
});

const rows = new Map(); // ResumableFile -> its row's elements

const notice = document.getElementById('notice');
const list = document.getElementById('files');
const drop = document.getElementById('drop');
const template = document.getElementById('file-row');

if (!uploader.support) {
  say('This browser lacks the File API that Resumable.js needs.');
  drop.hidden = true;
} else {
  uploader.assignBrowse(document.getElementById('pick'));
  uploader.assignDrop(drop);
  drop.addEventListener('dragenter', () => drop.classList.add('over'));
  drop.addEventListener('dragleave', (e) => {
    if (!drop.contains(e.relatedTarget)) drop.classList.remove('over');
  });
  drop.addEventListener('drop', () => drop.classList.remove('over'));
}

uploader.on('fileAdded', (file) => {
  say('');
  addRow(file);
  uploader.upload();
});

uploader.on('filesAdded', (added, skipped) => {
  if (skipped.length > 0) {
    say(`Already in the list: ${skipped.map((f) => f.name).join(', ')}.`);
  }
});

uploader.on('fileProgress', (file) => {
  const row = rows.get(file);
  if (row && !row.finished) show(file, row);
});

uploader.on('fileRetry', (file) => {
  const row = rows.get(file);
  if (row) row.status.textContent = 'A chunk failed; sending it again…';
});

uploader.on('fileSuccess', (file) => {
  const row = rows.get(file);
  row.finished = true;
  row.progress.value = 1;
  row.toggle.hidden = true;
  // Any chunk's request may be the one that finished the file, and its
  // answer need not be the last to arrive: look at all of them.
  const answer = file.chunks.map((c) => parse(c.message())).find((a) => a && a.state === 'complete');
  if (!answer) {
    row.status.textContent = 'Every chunk was already stored: this file was uploaded before.';
  } else {
    row.status.textContent = 'Complete.';
    showResult(row, answer);
  }
  row.item.classList.add('done');
  // Let the same file be picked again later.
  uploader.removeFile(file);
});

uploader.on('fileError', (file, message) => {
  const row = rows.get(file);
  row.finished = true;
  row.toggle.hidden = true;
  const answer = parse(message);
  row.status.textContent = 'Failed: ' + ((answer && answer.message) || message || 'no answer from the server');
  row.item.classList.add('failed');
  uploader.removeFile(file);
});

function addRow(file) {
  const item = template.content.firstElementChild.cloneNode(true);
  const row = {
    item,
    finished: false,
    progress: item.querySelector('progress'),
    status: item.querySelector('.status'),
    toggle: item.querySelector('.toggle'),
    result: item.querySelector('.result'),
  };
  item.querySelector('.name').textContent = file.fileName;
  item.querySelector('.size').textContent = bytes(file.size);
  row.toggle.addEventListener('click', () => (file.isPaused() ? resume(file) : pause(file)));
  rows.set(file, row);
  list.prepend(item);
  show(file, row);
}

function pause(file) {
  // Aborting a chunk frees its slot without Resumable.js noticing: hand
  // each freed slot to the next file in the queue.
  const busy = file.chunks.filter((c) => c.status() === 'uploading').length;
  file.pause(true);
  file.abort();
  for (let i = 0; i < busy; i++) uploader.uploadNextChunk();
  show(file, rows.get(file));
}

function resume(file) {
  file.pause(false);
  if (uploader.isUploading()) {
    uploader.uploadNextChunk();
  } else {
    uploader.upload();
  }
  show(file, rows.get(file));
}

function show(file, row) {
  const done = file.progress();
  row.progress.value = done;
  row.toggle.textContent = file.isPaused() ? 'Resume' : 'Pause';
  const amount = `${Math.floor(done * 100)}% (${bytes(done * file.size)} of ${bytes(file.size)})`;
  row.status.textContent = file.isPaused() ? `Paused at ${amount}` : `Uploading: ${amount}`;
}

function showResult(row, answer) {
  const key = row.result.querySelector('.key');
  const link = document.createElement('a');
  // The local runner serves finished objects back for a check by eye.
  link.href = '/_local/objects/' + answer.key.split('/').map(encodeURIComponent).join('/');
  link.textContent = answer.key;
  key.replaceChildren(link);
  row.result.querySelector('.stored-size').textContent = `${bytes(answer.size)} (${answer.size.toLocaleString('en')} bytes)`;
  row.result.querySelector('.crc').textContent = answer.crc64nvme;
  row.result.hidden = false;
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function bytes(n) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

function say(text) {
  notice.textContent = text;
  notice.hidden = text === '';
}

// The events the local EventBridge takes, newest first, as they come
// (server-sent events from /_local/events; the stream begins with the
// ones already kept, and an event seen twice is shown once).
const eventList = document.getElementById('events');
const seenEvents = new Set();
if (eventList && window.EventSource) {
  const source = new EventSource('/_local/events');
  source.onmessage = (message) => {
    const ev = parse(message.data);
    if (!ev || seenEvents.has(ev.id)) return;
    seenEvents.add(ev.id);
    const item = document.createElement('li');
    item.className = 'event';
    const head = document.createElement('div');
    head.className = 'event-head';
    const kind = document.createElement('strong');
    kind.textContent = ev['detail-type'];
    const when = document.createElement('time');
    when.textContent = ev.time;
    head.append(kind, ' ', when);
    const detail = document.createElement('pre');
    detail.textContent = JSON.stringify(ev.detail, null, 2);
    item.append(head, detail);
    eventList.prepend(item);
  };
}

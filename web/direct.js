// The demo page's second uploader: Uppy with its AwsS3 plugin, chunkup as
// its Companion (companionEndpoint), every part sent from the browser
// straight to S3 with a URL chunkup signed; chunkup lists the parts S3
// holds and completes the upload with the CRC64NVME S3 verified. It
// shares the rows of app.js (its template, bytes and showResult).
import { Uppy, AwsS3 } from '/vendor/uppy/uppy.js';

const MiB = 1024 * 1024;
const list = document.getElementById('direct-files');
const template = document.getElementById('file-row');
const rows = new Map(); // Uppy file id -> its row's elements

const uppy = new Uppy({ autoProceed: true, allowMultipleUploadBatches: true });
uppy.use(AwsS3, {
  companionEndpoint: location.origin,
  // Every file in parts, so each completion answers the object's checksum;
  // every part but the last is at least S3's 5 MiB.
  shouldUseMultipart: () => true,
  getChunkSize: () => 8 * MiB,
});

document.getElementById('pick-direct').addEventListener('change', (ev) => {
  for (const f of ev.target.files) {
    try {
      uppy.addFile({ name: f.name, type: f.type || 'application/octet-stream', data: f });
    } catch (err) {
      window.say(err.message); // Uppy refuses a file it already has
    }
  }
  ev.target.value = '';
});

uppy.on('file-added', (file) => {
  const item = template.content.firstElementChild.cloneNode(true);
  const row = {
    item,
    progress: item.querySelector('progress'),
    status: item.querySelector('.status'),
    toggle: item.querySelector('.toggle'),
    result: item.querySelector('.result'),
  };
  item.querySelector('.name').textContent = file.name;
  item.querySelector('.size').textContent = window.bytes(file.size);
  row.toggle.addEventListener('click', () => {
    const paused = uppy.pauseResume(file.id);
    row.toggle.textContent = paused ? 'Resume' : 'Pause';
    row.status.textContent = paused ? `Paused at ${Math.floor(row.progress.value * 100)}%` : 'Uploading…';
  });
  rows.set(file.id, row);
  list.prepend(item);
  row.status.textContent = 'Starting…';
});

uppy.on('upload-progress', (file, progress) => {
  const row = rows.get(file.id);
  if (!row || !progress.bytesTotal) return;
  const done = progress.bytesUploaded / progress.bytesTotal;
  row.progress.value = done;
  if (!file.isPaused) {
    row.status.textContent = `Uploading straight to S3: ${Math.floor(done * 100)}% (${window.bytes(progress.bytesUploaded)} of ${window.bytes(progress.bytesTotal)})`;
  }
});

uppy.on('upload-success', async (file, response) => {
  const row = rows.get(file.id);
  row.progress.value = 1;
  row.toggle.hidden = true;
  uppy.removeFile(file.id); // let the same file be picked again
  // Uppy passes on only the key and location of chunkup's completion
  // answer; the upload's status (its id is in the key) has the rest.
  const id = (response.body?.key || '').split('/')[1];
  const status = await fetch('/v1/uploads/' + encodeURIComponent(id)).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if (!status || status.state !== 'complete') {
    row.status.textContent = 'Sent to S3, but chunkup does not show the upload complete.';
    row.item.classList.add('failed');
    return;
  }
  row.status.textContent = 'Complete: every part went straight to S3.';
  window.showResult(row, status);
  row.item.classList.add('done');
});

uppy.on('upload-error', (file, err) => {
  const row = rows.get(file.id);
  if (!row) return;
  row.toggle.hidden = true;
  row.status.textContent = 'Failed: ' + err.message;
  row.item.classList.add('failed');
  uppy.removeFile(file.id);
});

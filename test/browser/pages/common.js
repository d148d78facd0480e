// Shared by the test pages: the SHA-256 of the file the page uploaded, as
// the page itself read it, for the test to compare with the S3 object.
'use strict';

async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// window.finished settles once the page's upload succeeds or fails; the
// test awaits it with page.evaluate(() => window.finished).
function settle() {
  let resolve, reject;
  window.finished = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  window.finished.catch(() => {}); // the test reads the failure, if any
  return { resolve, reject };
}

// window.posted lists the form fields (not the file) of every multipart
// POST the page sends, with the status it got: the browser's network log
// does not show a body that holds a file, and Flow.js sends its chunk
// number only there.
window.posted = [];
{
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    if (body instanceof FormData) {
      const entry = { fields: {}, status: null };
      for (const [k, v] of body.entries()) if (typeof v === 'string') entry.fields[k] = v;
      window.posted.push(entry);
      this.addEventListener('loadend', () => { entry.status = this.status; });
    }
    return send.call(this, body);
  };
}

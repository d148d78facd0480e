// Shared pieces of the browser tests: chunkup-local on a free port with a
// fresh data directory, a static server for the test pages on another
// port (another origin, so every API call is a real cross-origin request),
// Debian's Chromium driven by playwright-core, random files, and the
// finished object read back from S3.
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const MiB = 1024 * 1024;
export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pages = path.join(repo, 'test/browser/pages');

// chunkupBinary builds cmd/chunkup-local unless CHUNKUP_LOCAL names a
// binary already built (the Makefile builds it once for all test files).
// The build goes to a temporary name and is renamed into place, so test
// files started in parallel never run a half-written binary.
function chunkupBinary() {
  if (process.env.CHUNKUP_LOCAL) return process.env.CHUNKUP_LOCAL;
  const out = path.join(repo, '.local/bin/chunkup-local');
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync('go', ['build', '-o', tmp, './cmd/chunkup-local'], { cwd: repo, stdio: 'inherit' });
  renameSync(tmp, out);
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// startChunkup runs chunkup-local (dynalite, versitygw and the API, the
// functions under the Lambda Runtime Interface Emulator) on a free port
// with a new data directory, and returns once the API answers; args are
// more flags for it (-concurrency, -param Name=Value, ...).
// stop() sends SIGTERM, which makes chunkup-local stop its own servers,
// waits for it to exit and removes the data directory.
export async function startChunkup(args = []) {
  const bin = chunkupBinary();
  const dir = await mkdtemp(path.join(tmpdir(), 'chunkup-browser-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['-addr', `127.0.0.1:${port}`, '-data', path.join(dir, 'data'), '-sweep', '1h', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-16384);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  // If this test process dies without stop(), take chunkup-local with it.
  const onExit = () => child.kill('SIGKILL');
  process.on('exit', onExit);

  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`chunkup-local exited before answering:\n${output}`);
    }
    try {
      const res = await fetch(base + '/v1/uploads/none', { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 404) break; // the API runs and found no such upload
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`chunkup-local did not answer on ${base} within two minutes:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // The tests run the functions as `make run` does: their built binaries
  // under the Lambda Runtime Interface Emulator, which the startup lines
  // name (printed before the API answers; the pipe may bring them later).
  while (!/^ {2}functions: /m.test(output) && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!/^ {2}functions: .*under the Lambda Runtime Interface Emulator/m.test(output)) {
    child.kill('SIGKILL');
    throw new Error(`chunkup-local does not run the functions under the emulator:\n${output}`);
  }

  return {
    base,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// startPages serves test/browser/pages on its own port: a different
// origin from the API, as a real site would be. In each page __API__ is
// replaced by the API's base URL.
//
// extra maps more names to their text, served as it is (a bundle a
// test built, for one).
export async function startPages(api, extra = {}) {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
  const srv = createServer(async (req, res) => {
    const name = new URL(req.url, 'http://x').pathname.slice(1);
    if (Object.hasOwn(extra, name)) {
      res.writeHead(200, { 'Content-Type': types['.js'], 'Cache-Control': 'no-store' }).end(extra[name]);
      return;
    }
    if (!/^[a-z0-9-]+\.(html|js)$/.test(name)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const raw = Object.hasOwn(extra, name) ? extra[name] : await readFile(path.join(pages, name), 'utf8');
      const text = raw.replaceAll('__API__', api);
      res.writeHead(200, { 'Content-Type': types[path.extname(name)], 'Cache-Control': 'no-store' }).end(text);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${srv.address().port}`,
    stop: () => new Promise((resolve) => srv.close(resolve)),
  };
}

// bundle builds entry (a file of lib/) and what it imports from
// node_modules into one browser script, and returns its text. Uppy ships
// only as ES modules with CommonJS dependencies, so a page needs it
// bundled, as an app's build would; esbuild is pinned in package.json.
export async function bundle(entry) {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [path.join(repo, 'test/browser/lib', entry)],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'warning',
  });
  return out.outputFiles[0].text;
}

// launchBrowser starts Debian's Chromium headless, with a new empty
// profile (playwright makes one per launch) and no background traffic.
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// randomFile writes size random bytes to a new file in dir and returns
// its path, name and SHA-256.
export async function randomFile(dir, size) {
  const data = randomBytes(size);
  const name = `random-${randomBytes(4).toString('hex')}.bin`;
  const file = path.join(dir, name);
  await writeFile(file, data);
  return { path: file, name, size, sha256: createHash('sha256').update(data).digest('hex') };
}

export async function tempDir() {
  return mkdtemp(path.join(tmpdir(), 'chunkup-browser-files-'));
}

// readObject reads a finished object back from the local S3 server, through
// chunkup-local's /_local/objects/, and returns its size, SHA-256 and the
// full-object CRC64NVME that S3 stored with it.
export async function readObject(api, key) {
  const url = api + '/_local/objects/' + key.split('/').map(encodeURIComponent).join('/');
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of res.body) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex'), crc64nvme: res.headers.get('x-amz-checksum-crc64nvme') };
}

// recordRequests logs every request the page makes to target (a URL
// without query): method, chunk number (from the query parameter
// chunkParam; null when it is only in a multipart body, which the browser
// does not show), the phase it was sent in (phase.current at the time) and
// the status it got, 'failed' if it was cut off before an answer.
export function recordRequests(page, target, chunkParam, phase) {
  const log = [];
  const entries = new Map();
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.origin + url.pathname !== target) return;
    const entry = {
      method: req.method(),
      chunk: url.searchParams.has(chunkParam) ? Number(url.searchParams.get(chunkParam)) : null,
      phase: phase.current,
      status: null,
    };
    entries.set(req, entry);
    log.push(entry);
  });
  page.on('response', (res) => {
    const entry = entries.get(res.request());
    if (entry) entry.status = res.status();
  });
  page.on('requestfailed', (req) => {
    const entry = entries.get(req);
    if (entry && entry.status === null) entry.status = 'failed';
  });
  return log;
}

export function range(first, last) {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

// routeMissing tells whether the API has no route for method and path:
// the gateway then answers 404 {"message":"Not Found"} (as an HTTP API
// does), where a dialect would answer in its own shape.
export async function routeMissing(api, method, path) {
  const res = await fetch(api + path, { method });
  const body = await res.text();
  return res.status === 404 && body.trim() === '{"message":"Not Found"}';
}

// within rejects if promise does not settle in ms milliseconds.
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// screenshotPath is where tests leave screenshots for a look by eye
// (git-ignored).
export async function screenshotPath(name) {
  const dir = path.join(repo, '.local/screenshots');
  await mkdir(dir, { recursive: true });
  return path.join(dir, name);
}

// vendoredUppy is the Uppy module the demo page loads from
// /vendor/uppy/uppy.js: @uppy/core and @uppy/aws-s3 bundled by `make
// tools` (web/uppy.entry.mjs), which make test-browser runs first.
export async function vendoredUppy() {
  return readFile(path.join(repo, '.local/vendor/uppy/uppy.js'), 'utf8');
}

// browserSuite starts, before the tests of the suite it is called in,
// chunkup-local (with args), the test pages (with extra, as startPages
// takes it), Chromium and a temporary directory, hands them to set as
// { chunkup, pages, browser, dir }, and stops them after the suite.
export function browserSuite(set, args = [], extra = async () => ({})) {
  const s = {};
  before(async () => {
    s.chunkup = await startChunkup(args);
    s.pages = await startPages(s.chunkup.base, await extra());
    s.browser = await launchBrowser();
    s.dir = await tempDir();
    set(s);
  });
  after(async () => {
    await s.browser?.close();
    await s.pages?.stop();
    await s.chunkup?.stop();
    if (s.dir) await rm(s.dir, { recursive: true, force: true });
  });
}

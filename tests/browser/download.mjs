#!/usr/bin/env node
// Walks one attachgate download link the way a recipient would, in Debian's
// headless Chromium: landing page, access code, Download button, saved file.
// Prints exactly one line of JSON on stdout (ok:true, exit 0 / ok:false, exit 1)
// for the end-to-end tests to parse; everything else goes to stderr.
// The pages and the download are untrusted: the saved file's name is reduced
// to a plain basename inside --out-dir, and the whole run is bounded in time.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

// Never let anything fetch a browser build: Debian's chromium is the browser.
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';

const USAGE = `usage: node tests/browser/download.mjs --url URL --out-dir DIR
         [--file-name NAME] [--code ACCESSCODE] [--screenshot-only]
         [--click BUTTON]
         [--timeout SECONDS] [--chromium PATH]

Opens URL (an attachgate /d/{token} link) in headless Chromium, screenshots it
(landing.png, landing-mobile.png), unlocks it with --code if given
(unlocked.png), clicks the Download button whose accessible name holds
--file-name, saves the file in DIR and hashes it. With --click BUTTON it
instead presses the button of that accessible name (e.g. a status page's
"Revoke the link now"), waits for the next page and screenshots it
(clicked.png; "clicked_status" gives its HTTP status). With --screenshot-only it
stops after the landing screenshots. On failure it writes failure.png.

stdout, one line of JSON:
  {"ok":true,"status":200,"saved":"/abs/file","sha256":"hex","bytes":N,
   "suggested_filename":"...","screenshots":[...],"console_errors":[...],
   "csp_violations":[...]}
  {"ok":false,"error":"...","screenshots":[...],"console_errors":[...],
   "csp_violations":[...]}
Console messages that mention "Content Security Policy" are listed only in
csp_violations; other console errors and uncaught page errors in
console_errors. Exit status 0 when ok, 1 otherwise. Default timeout 60 s.`;

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // The tests only ever talk to loopback or their own test hosts.
  '--no-proxy-server',
  // Containers often have a small /dev/shm; Chromium crashes when it fills.
  '--disable-dev-shm-usage',
];
const DESKTOP = { width: 1280, height: 800 };
const MOBILE = { width: 390, height: 844 };
const SCREENSHOT_NAMES = new Set(['landing.png', 'landing-mobile.png', 'unlocked.png', 'clicked.png',
  'failure.png']);

const result = { ok: false, screenshots: [], console_errors: [], csp_violations: [] };

function emit(exitCode) {
  // Exactly one line: the caller parses stdout as a single JSON document.
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(exitCode));
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// The suggested name comes from the server's Content-Disposition: keep only a
// short plain basename, so it cannot leave out-dir or hide a screenshot.
function safeFileName(name) {
  let n = String(name ?? '').replace(/\\/g, '/');
  n = path.posix.basename(n).replace(/[\x00-\x1f\x7f]/g, '_').replace(/^[.\s]+/, '').trim();
  const chars = Array.from(n);
  while (Buffer.byteLength(chars.join('')) > 200) chars.pop();
  n = chars.join('');
  if (!n) n = 'download.bin';
  if (SCREENSHOT_NAMES.has(n)) n = 'download-' + n;
  return n;
}

async function sha256File(file) {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function screenshot(page, outDir, name, timeout) {
  const file = path.join(outDir, name);
  await page.screenshot({ path: file, fullPage: true, timeout });
  result.screenshots.push(file);
}

async function bodySnippet(page) {
  try {
    const text = await page.locator('body').innerText({ timeout: 2000 });
    return text.replace(/\s+/g, ' ').trim().slice(0, 300);
  } catch {
    return '';
  }
}

async function buttonNames(page) {
  try {
    const names = await page.getByRole('button').evaluateAll(
      (els) => els.map((e) => (e.getAttribute('aria-label') || e.textContent || '').replace(/\s+/g, ' ').trim()));
    return names.slice(0, 20);
  } catch {
    return [];
  }
}

function watchConsole(page) {
  page.on('console', (msg) => {
    const text = msg.text();
    if (text.includes('Content Security Policy')) {
      result.csp_violations.push(text);
    } else if (msg.type() === 'error') {
      const where = msg.location()?.url;
      result.console_errors.push(where ? `${text} (${where})` : text);
    }
  });
  page.on('pageerror', (err) => result.console_errors.push(`uncaught: ${err.message}`));
}

// Clicks `trigger` and waits for the main frame's next document to load;
// returns its HTTP status (the POST back to the same URL is not a URL change,
// so waitForURL would not notice it). A redirect (a POST answered 303) is
// followed: the status is the final document's.
async function clickAndLoad(page, trigger, timeout) {
  const response = page.waitForResponse(
    (r) => r.request().isNavigationRequest() && r.frame() === page.mainFrame() &&
      (r.status() < 300 || r.status() >= 400), { timeout });
  await trigger.click({ timeout });
  const r = await response;
  await page.waitForLoadState('load', { timeout });
  return r.status();
}

async function run(opts, state) {
  const { chromium } = await import('playwright-core').catch(() => {
    throw new Error('playwright-core is not installed: run npm ci --prefix tests/browser');
  });
  const step = Math.min(opts.timeoutMs, 30000);
  state.browser = await chromium.launch({
    executablePath: opts.chromium, headless: true, args: CHROMIUM_ARGS, timeout: step,
  });
  const context = await state.browser.newContext({ acceptDownloads: true, viewport: DESKTOP });
  const page = await context.newPage();
  state.page = page;
  page.setDefaultTimeout(step);
  watchConsole(page);

  const landing = await page.goto(opts.url, { waitUntil: 'load' });
  result.status = landing ? landing.status() : null;
  await screenshot(page, opts.outDir, 'landing.png', step);
  // Same document, narrow viewport: a second GET could count as a view.
  await page.setViewportSize(MOBILE);
  await screenshot(page, opts.outDir, 'landing-mobile.png', step);
  await page.setViewportSize(DESKTOP);
  if (opts.screenshotOnly) return;
  if (opts.click !== undefined) {
    const target = page.getByRole('button', { name: opts.click, exact: true });
    if ((await target.count()) !== 1) {
      throw new Error(`no single button named "${opts.click}"; buttons: ${JSON.stringify(await buttonNames(page))}`);
    }
    result.clicked_status = await clickAndLoad(page, target, step);
    await screenshot(page, opts.outDir, 'clicked.png', step);
    return;
  }
  if (result.status !== null && result.status >= 400) {
    throw new Error(`landing page answered HTTP ${result.status}: ${await bodySnippet(page)}`);
  }

  const codeField = page.getByLabel('Access code');
  if (opts.code !== undefined) {
    if ((await codeField.count()) === 0) {
      throw new Error('--code given but the page has no field labelled "Access code"');
    }
    await codeField.fill(opts.code);
    const status = await clickAndLoad(page, page.getByRole('button', { name: 'Unlock' }), step);
    await screenshot(page, opts.outDir, 'unlocked.png', step);
    result.unlock_status = status;
  }

  // "a.pdf" must not also pick "a.pdf.zip": the name may not run on into
  // more file-name characters.
  const name = new RegExp('Download.*' + escapeRegExp(opts.fileName) + '(?![\\w.-])');
  const button = page.getByRole('button', { name });
  const found = await button.count();
  if (found === 0) {
    const stillLocked = (await codeField.count()) > 0;
    const snippet = await bodySnippet(page);
    if (stillLocked && opts.code !== undefined) {
      throw new Error(`access code rejected: after Unlock (HTTP ${result.unlock_status}) the page still asks for it: ${snippet}`);
    }
    if (stillLocked) throw new Error(`the page asks for an access code but --code was not given: ${snippet}`);
    throw new Error(`no Download button for "${opts.fileName}"; buttons: ${JSON.stringify(await buttonNames(page))}; page: ${snippet}`);
  }
  if (found > 1) {
    throw new Error(`${found} Download buttons match "${opts.fileName}": ${JSON.stringify(await buttonNames(page))}`);
  }

  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: step }),
    button.click(),
  ]);
  result.suggested_filename = download.suggestedFilename();
  const saved = path.join(opts.outDir, safeFileName(result.suggested_filename));
  await download.saveAs(saved);
  const failure = await download.failure();
  if (failure) throw new Error(`download failed: ${failure}`);
  result.saved = saved;
  Object.assign(result, await sha256File(saved));
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      code: { type: 'string' },
      'file-name': { type: 'string' },
      'out-dir': { type: 'string' },
      'screenshot-only': { type: 'boolean', default: false },
      click: { type: 'string' },
      timeout: { type: 'string', default: '60' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return { help: true };
  if (!values.url || !/^https?:\/\//i.test(values.url)) throw new Error('--url must be an http(s) URL');
  if (!values['out-dir']) throw new Error('--out-dir is required');
  if (!values['screenshot-only'] && !values.click && !values['file-name']) {
    throw new Error('--file-name is required (or --click, or --screenshot-only)');
  }
  const seconds = Number(values.timeout);
  if (!(seconds > 0 && seconds <= 600)) throw new Error('--timeout must be 1..600 seconds');
  return {
    url: values.url,
    code: values.code,
    fileName: values['file-name'],
    outDir: path.resolve(values['out-dir']),
    screenshotOnly: values['screenshot-only'],
    click: values.click,
    timeoutMs: seconds * 1000,
    chromium: values.chromium,
  };
}

async function main() {
  let opts;
  try {
    opts = parseOptions();
  } catch (err) {
    result.error = `bad arguments: ${err.message} (see --help)`;
    return emit(1);
  }
  if (opts.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }

  const state = { browser: null, page: null };
  // Last resort if closing the browser itself hangs after the deadline.
  const guard = setTimeout(() => {
    result.ok = false;
    result.error ??= 'timed out, and the browser did not close';
    emit(1);
  }, opts.timeoutMs + 15000);
  guard.unref();

  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${opts.timeoutMs / 1000} s`)), opts.timeoutMs);
  });
  try {
    await mkdir(opts.outDir, { recursive: true });
    await Promise.race([run(opts, state), deadline]);
    result.ok = true;
  } catch (err) {
    result.ok = false;
    result.error = String(err?.message ?? err).split('\n')[0];
    if (state.page) {
      await screenshot(state.page, opts.outDir, 'failure.png', 3000)
        .catch((e) => process.stderr.write(`download.mjs: no failure.png: ${e.message.split('\n')[0]}\n`));
    }
  } finally {
    clearTimeout(timer);
    if (state.browser) await state.browser.close().catch(() => {});
  }
  if (!result.ok) {
    delete result.saved;
    delete result.sha256;
    delete result.bytes;
  }
  emit(result.ok ? 0 : 1);
}

main();

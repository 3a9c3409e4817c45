// lib.mjs - what the browser tests share: a real parleyd on a free
// loopback port with its own data directory, Chromium through
// playwright-core, TAP output, TOTP codes and a small API client.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/* Start parleyd (PARLEYD) and resolve once it listens, with its URL and
 * the one-time password it prints. */
export async function bootParleyd(extra = []) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-browser-'));
  chmodSync(dir, 0o755); // parleyd started as root runs as 'nobody'
  const bin = process.env.PARLEYD;
  if (!bin) throw new Error('PARLEYD is not set');
  const child = spawn(bin, ['--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (d) => { out += d.toString(); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    const port = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    const pw = /password:\s+(\S+)/.exec(out);
    if (port && pw && (await accepts(Number(port[1])))) {
      return {
        url: `https://127.0.0.1:${port[1]}`, password: pw[1], dir, child, log: () => out,
        /* SIGTERM, then the exit status (0 for a clean shutdown). */
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            await new Promise((r) => child.once('exit', r));
          }
          rmSync(dir, { recursive: true, force: true });
          return child.exitCode;
        },
      };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('parleyd did not start:\n' + out);
}

function accepts(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
  });
}

/* RFC 6238 code (SHA-1, 6 digits, 30 s) of base32 `secret` at `step`. */
export function totp(secret, step = Math.floor(Date.now() / 30000)) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alpha.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(msg).digest();
  const o = mac[19] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

/* Codes are good once each and within one step of now: hand out a step
 * after the last one used, waiting when that is too far ahead. */
export function totpSource(secret) {
  let last = -1;
  return async () => {
    for (;;) {
      const now = Math.floor(Date.now() / 30000);
      const step = Math.max(now - 1, last + 1);
      if (step <= now + 1) {
        last = step;
        return totp(secret, step);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
}

/* The admin API with a bearer token, to check what the console did. */
export function apiClient(request, base, token) {
  const call = async (method, path, body) => {
    const res = await request.fetch(base + '/api/v1/admin' + path, {
      method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      data: body === undefined ? undefined : JSON.stringify(body), ignoreHTTPSErrors: true,
    });
    const text = await res.text();
    if (!res.ok()) throw new Error(`${method} ${path}: ${res.status()} ${text}`);
    return text.startsWith('{') ? JSON.parse(text) : text;
  };
  return { get: (p) => call('GET', p), post: (p, b) => call('POST', p, b), patch: (p, b) => call('PATCH', p, b) };
}

export function run(cmd, args, env) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/* TAP: each step is a test case; after a failure the rest are reported
 * as failed too, since they build on it. */
export function tap() {
  const steps = [];
  return {
    step: (name, fn) => steps.push({ name, fn }),
    async run(onFail) {
      console.log(`1..${steps.length}`);
      let broken = null, failed = 0;
      for (let i = 0; i < steps.length; i++) {
        const s = steps[i];
        if (broken) {
          console.log(`not ok ${i + 1} - ${s.name} # after failure of: ${broken}`);
          failed++;
          continue;
        }
        const t0 = Date.now();
        try {
          await s.fn();
          console.log(`ok ${i + 1} - ${s.name} (${Date.now() - t0} ms)`);
        } catch (e) {
          failed++;
          broken = s.name;
          console.log(`not ok ${i + 1} - ${s.name}`);
          console.log(String(e.stack || e).split('\n').map((l) => '# ' + l).join('\n'));
          if (onFail) await onFail(s.name).catch(() => {});
        }
      }
      return failed;
    },
  };
}

export function artifactsDir() {
  const d = process.env.PARLEY_BROWSER_ARTIFACTS || join(process.cwd(), 'browser-artifacts');
  mkdirSync(d, { recursive: true });
  return d;
}

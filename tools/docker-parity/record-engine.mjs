#!/usr/bin/env node
// Records what a real dockerd (Debian docker.io 20.10) answers to the Docker API requests of
// apps/api/src/docker/fixtures/engine/cases.json, one fixture per case: {status, body}.
// e2e/docker-cli compares Muelle's answers to them (keys, JSON types, status codes).
//
//   DOCKER_HOST=unix:///tmp/…/docker.sock node tools/docker-parity/record-engine.mjs
//
// Needs a dedicated dockerd (see tools/docker-parity/README.md: it imports busybox:latest and
// creates, kills and prunes a container labelled parity=yes) and busybox-static.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importBase } from './busybox-base.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const fixtures = join(repoRoot, 'apps', 'api', 'src', 'docker', 'fixtures', 'engine');
const IMAGE = 'busybox:latest';

const docker = (args) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** One request to the engine's unix socket; the body parsed when it is JSON. */
function call(socketPath, method, path, body, c) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath, method, path: `/v1.41${path}`, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        let parsed = text;
        try {
          if (c.header && res.statusCode < 300) parsed = JSON.parse(Buffer.from(String(res.headers[c.header]), 'base64').toString('utf8'));
          else if (c.stream) parsed = text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
          else parsed = text ? JSON.parse(text) : null;
        } catch {
          // Not JSON (an empty 204, plain text): kept as the text.
        }
        resolve({ status: res.statusCode, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (all, key) => (key in vars ? vars[key] : all));
const fillDeep = (value, vars) => JSON.parse(fill(JSON.stringify(value), vars));

const host = process.env.DOCKER_HOST ?? '';
if (!host.startsWith('unix://')) {
  // It imports busybox:latest and prunes containers: never do that to the machine's own engine by accident.
  console.error('record-engine.mjs: set DOCKER_HOST=unix://… to a dedicated dockerd (see tools/docker-parity/README.md)');
  process.exit(2);
}
const socket = host.slice('unix://'.length);
const work = mkdtempSync(join(tmpdir(), 'muelle-engine-parity-'));
try {
  importBase(repoRoot, work, docker, IMAGE);
  const { cases } = JSON.parse(readFileSync(join(fixtures, 'cases.json'), 'utf8'));
  // The port is published inside the dedicated dockerd's own network namespace (README).
  const vars = { image: IMAGE, name: `parity-${process.pid}`, port: '18080', start: String(Math.floor(Date.now() / 1000) - 1) };
  for (const c of cases) {
    vars.now = String(Math.floor(Date.now() / 1000));
    const answer = await call(socket, c.method, fill(c.path, vars), c.body === undefined ? undefined : fillDeep(c.body, vars), c);
    if (c.capture && answer.body?.Id) vars[c.capture] = answer.body.Id;
    writeFileSync(join(fixtures, `${c.name}.json`), JSON.stringify({ recordedWith: `dockerd ${docker(['version', '--format', '{{.Server.Version}}']).trim()}`, ...answer }, null, 2) + '\n');
    console.log(`${c.name}: ${answer.status}`);
  }
} catch (error) {
  console.error(error.stderr ? `${error.message}\n${error.stderr}` : error);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

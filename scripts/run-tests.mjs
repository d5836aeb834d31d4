#!/usr/bin/env node
// Runs the test suite: node's own runner through tsx, with an explicit file list
// (Node 20's --test does not expand globs). Usage: run-tests.mjs [dir-or-file ...]
// Default: every *.test.ts under test/. TEST_ONLY=unit,protocol limits to subfolders.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      collect(join(path, name), out);
    }
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

let roots = process.argv.slice(2);
if (roots.length === 0) {
  const only = process.env.TEST_ONLY ? process.env.TEST_ONLY.split(',') : null;
  roots = only ? only.map((d) => join('test', d)) : ['test'];
}
const files = roots.flatMap((r) => collect(r, [])).map((f) => relative(process.cwd(), f));
if (files.length === 0) {
  console.error('run-tests: no test files found under', roots.join(' '));
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', ...files];
if (process.env.TEST_REPORTER) args.unshift(`--test-reporter=${process.env.TEST_REPORTER}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);

#!/usr/bin/env node
// Enforces the import direction of ../shared/DESIGN.md:
//   util <- io <- cache <- ext2 <- bridge -> fuse -> util ; cli may use everything;
//   nothing in src/ imports test/ or bench/.
// Exits 1 with one line per violation.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, dirname, resolve, relative, sep } from 'node:path';

const SRC = resolve('src');
const allowed = {
  util: ['util'],
  io: ['util', 'io'],
  cache: ['util', 'io', 'cache'],
  ext2: ['util', 'io', 'cache', 'ext2'],
  fuse: ['util', 'fuse'],
  bridge: ['util', 'io', 'cache', 'ext2', 'fuse', 'bridge'],
  cli: ['util', 'io', 'cache', 'ext2', 'fuse', 'bridge', 'cli'],
};

function walk(dir, out = []) {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const problems = [];
const importRe = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
for (const file of walk(SRC)) {
  const layer = relative(SRC, file).split(sep)[0];
  const ok = allowed[layer];
  if (!ok) { problems.push(`${relative('.', file)}: file outside a known layer (${layer})`); continue; }
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    const rel = relative(SRC, target);
    if (rel.startsWith('..')) { problems.push(`${relative('.', file)}: imports outside src/: ${spec}`); continue; }
    const tlayer = rel.split(sep)[0];
    if (!ok.includes(tlayer)) problems.push(`${relative('.', file)}: layer ${layer} must not import ${tlayer} (${spec})`);
  }
}
if (problems.length) {
  for (const p of problems) console.error('import-direction:', p);
  process.exit(1);
}
console.log('import-direction: ok');

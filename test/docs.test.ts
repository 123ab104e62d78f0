// Every citation of the method document in the repository resolves: `docs/method.md §N` and
// `docs/method.md §N.M` (ranges §A–B too) name a numbered section that exists, and no citation
// points at a file outside the repository (a bare `method.md` or `performance-notes.md`).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const DIRS = ['assembly', 'bindings', 'bench', 'examples', 'test', 'scripts', 'docs'];
const TEXT = /\.(ts|js|mjs|md|html|json)$/;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...files(rel));
    else if (TEXT.test(name)) out.push(rel);
  }
  return out;
}

const all = [...DIRS.flatMap(files), 'README.md'];
const method = readFileSync(join(root, 'docs/method.md'), 'utf8');
// "## 2 Never look back" → "2"; "### 2.4 Step 4: …" → "2.4"
const sections = new Set([...method.matchAll(/^#{2,3} (\d+(?:\.\d+)?) /gm)].map((m) => m[1]));

test('docs/method.md has numbered sections 1–8 with subsections', () => {
  for (const s of ['1', '2', '2.1', '2.7', '3', '4', '5', '6', '7', '8']) assert.ok(sections.has(s), `§${s} exists`);
});

test('every docs/method.md §… citation in the repository names a section that exists', () => {
  let count = 0;
  for (const file of all) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(/docs\/method\.md((?:\s*§[\d.]+(?:[–-][\d.]+)?,?)*)/g)) {
      for (const ref of m[1].matchAll(/§([\d.]+)(?:[–-]([\d.]+))?/g)) {
        for (const s of [ref[1], ref[2]].filter(Boolean) as string[]) {
          const id = s.replace(/\.$/, '');
          assert.ok(sections.has(id), `${file}: ${m[0]} cites §${id}, which docs/method.md does not have`);
          count++;
        }
      }
    }
  }
  assert.ok(count > 80, `found ${count} section citations`);
});

test('no citation points at a method or notes file outside the repository', () => {
  for (const file of all) {
    if (file === 'test/docs.test.ts') continue;
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      assert.not.match(line, /(^|[^/\w])(method|performance-notes|architecture)\.md/, `${file}:${i + 1} cites a file outside the repository`);
    });
  }
});

test.run();

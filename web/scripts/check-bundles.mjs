// Fails when a committed bundle is stale: rebuilds the API schema, the generated operation
// types, web/dist and playground/dist into a temporary directory and compares them byte by
// byte with the committed files (the working tree is not touched). Needs `npm ci` in web/
// and playground/ first. Fix a failure with `npm run build` in web/ and in playground/.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const web = join(root, 'web');
const playground = join(root, 'playground');
const tmp = mkdtempSync(join(tmpdir(), 'platform-bundles-'));

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p).map((f) => join(name, f)) : [name];
  });
}

/** Differences between a fresh build `fresh` and the committed `committed`, as lines. */
function compare(label, fresh, committed) {
  const a = new Set(files(fresh));
  const b = new Set(files(committed));
  const out = [];
  for (const f of a) {
    if (!b.has(f)) out.push(`${label}: missing ${join(relative(root, committed), f)}`);
    else if (!readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f)))) {
      out.push(`${label}: stale ${join(relative(root, committed), f)}`);
    }
  }
  for (const f of b) if (!a.has(f)) out.push(`${label}: extra ${join(relative(root, committed), f)}`);
  return out;
}

const run = (cwd, cmd, args, env = {}) =>
  execFileSync(join(cwd, 'node_modules/.bin', cmd), args, {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'],
  });

try {
  const problems = [];
  execFileSync(process.execPath, [join(web, 'scripts/api-schema.mjs'), join(tmp, 'schema.graphql')]);
  if (!readFileSync(join(tmp, 'schema.graphql')).equals(readFileSync(join(web, 'schema.graphql')))) {
    problems.push('web: stale web/schema.graphql (schema/supergraph.graphql changed)');
  }
  run(web, 'graphql-codegen', ['--config', 'codegen.ts'], { CODEGEN_OUT: join(tmp, 'gql') + '/' });
  problems.push(...compare('web', join(tmp, 'gql'), join(web, 'src/gql')));
  run(web, 'vite', ['build', '--logLevel', 'error', '--outDir', join(tmp, 'web-dist')]);
  problems.push(...compare('web', join(tmp, 'web-dist'), join(web, 'dist')));
  run(playground, 'vite', ['build', '--logLevel', 'error', '--outDir', join(tmp, 'playground-dist')]);
  problems.push(...compare('playground', join(tmp, 'playground-dist'), join(playground, 'dist')));
  if (problems.length) {
    console.error(`committed bundles are stale:\n  ${problems.join('\n  ')}\n` +
      'rebuild with `npm run build` in web/ and in playground/, then commit the result');
    process.exitCode = 1;
  } else {
    console.log('web/dist, web/src/gql and playground/dist match a fresh build');
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
